"""Where a farm's database URL comes from: never the command line a `ps` shows, if it can help it.

`FARMHAND_DATABASE_URL`, or the first line of a private file (`--database-url-file`,
`FARMHAND_DATABASE_URL_FILE`); `--database-url` still works. Processes started for a farm are given
the URL in their environment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._private_files import SecretFileError, read_secret_file

DATABASE_URL_ENV = "FARMHAND_DATABASE_URL"
DATABASE_URL_FILE_ENV = "FARMHAND_DATABASE_URL_FILE"

__all__ = ["DATABASE_URL_ENV", "DATABASE_URL_FILE_ENV", "database_url_options", "resolve_database_url"]

Command = TypeVar("Command", bound=Callable[..., Any])


def database_url_options(command: Command) -> Command:
    """The `--database-url` and `--database-url-file` options (and their variables)."""
    command = click.option(
        "--database-url-file",
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        default=None,
        envvar=DATABASE_URL_FILE_ENV,
        help=f"A private file whose first line is the database URL [env {DATABASE_URL_FILE_ENV}].",
    )(command)
    return click.option(
        "--database-url",
        default=None,
        envvar=DATABASE_URL_ENV,
        help=f"postgresql+psycopg://... (default: SQLite in the data dir) [env {DATABASE_URL_ENV}]. "
        "Prefer the variable or the file: a password on a command line shows in `ps`.",
    )(command)


def resolve_database_url(database_url: str | None, database_url_file: Path | None) -> str | None:
    """The URL given one way or the other; a file readable by others gets a warning."""
    if database_url_file is None:
        return database_url
    if database_url:
        raise click.UsageError("give the database URL once: --database-url or --database-url-file")
    try:
        url, private = read_secret_file(database_url_file)
    except SecretFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--database-url-file") from exc
    if not private:
        click.echo(f"warning: {database_url_file} is readable by other users; chmod 600 it", err=True)
    return url
