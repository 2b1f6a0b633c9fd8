"""`farmhand server --config FILE`: the server's options in a TOML file instead of flags.

Each key is an option's name (`port`, `database_url_file`, `worker_timeout_seconds`, ...; dashes or
underscores), its value what the flag would take. Flags and environment variables given as well win
over the file. A file holding a secret (a database URL, the metrics token) must be readable by its
owner only, as the server refuses to start otherwise; unknown keys are refused by name.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_ENV = "FARMHAND_CONFIG"
SECRET_KEYS = frozenset({"database_url", "metrics_token"})


def read_config_file(path: Path, command: click.Command) -> dict[str, Any]:
    """The file's settings as click defaults for `command`, or a ClickException naming what is wrong."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise click.ClickException(f"cannot read the configuration file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise click.ClickException(f"the configuration file {path} is not valid TOML: {error}") from None
    known = {p.name for p in command.params if p.name and p.name != "config"}
    settings: dict[str, Any] = {}
    unknown = []
    for key, value in document.items():
        name = key.replace("-", "_")
        if name not in known or isinstance(value, dict):
            unknown.append(key)
            continue
        settings[name] = str(value) if isinstance(value, Path) else value
    if unknown:
        raise click.ClickException(
            f"the configuration file {path} has unknown settings: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    secrets = sorted(SECRET_KEYS & settings.keys())
    if secrets and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise click.ClickException(
            f"the configuration file {path} holds {', '.join(secrets)} but others may read it: "
            f"chmod 600 {path} (or give the secret through its own file or variable)"
        )
    return settings


def config_file_option(command: F) -> F:
    """Add `--config FILE` (also `FARMHAND_CONFIG`), read before every other option."""

    def load(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
        if value is not None:
            ctx.default_map = {**(ctx.default_map or {}), **read_config_file(value, ctx.command)}
        return value

    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        envvar=CONFIG_ENV,
        is_eager=True,
        expose_value=False,
        callback=load,
        help="A TOML file of server options (keys named as the options); flags given as well win.",
    )(command)
