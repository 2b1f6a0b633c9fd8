"""`farmhand backup TARGET`: a consistent copy of a SQLite farm, taken while its server runs.

The database is copied with SQLite's online backup API (a snapshot of one moment, whatever the
server writes meanwhile), together with what the copy needs to be opened: the farm secret's key
file (unless the farm takes its secret from FARMHAND_SECRET_KEY, which the operator keeps) and the
admin's credentials. TARGET becomes a data directory of its own (0700, files 0600): restoring is
starting `farmhand server --data-dir TARGET`, or copying its files into a stopped farm's data dir.

Objects in the farm's own object store (`<data dir>/objects`) are not copied; a farm whose
attachments matter keeps them in an external store with its own backups. PostgreSQL farms are
backed up with the database's own tools (`pg_dump`; see the README).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import click

from .._private_files import PRIVATE_FILE_MODE, make_private_dir
from ._identity import ADMIN_CREDENTIALS_FILE
from .farm_secret import KEY_FILE_NAME
from .store import SQLITE_FILE_NAME

PAGES_PER_STEP = 1024  # the server may write between steps; the copy stays one snapshot


class BackupError(click.ClickException):
    """A backup that cannot be taken, and why."""


def backup_sqlite_farm(data_dir: Path, target: Path) -> list[Path]:
    """Copy the farm in `data_dir` into the directory `target`; returns the files written."""
    source = data_dir / SQLITE_FILE_NAME
    if not source.is_file():
        raise BackupError(f"no SQLite farm in {data_dir} ({SQLITE_FILE_NAME} not found)")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new directory")
    make_private_dir(target)
    copy = target / SQLITE_FILE_NAME
    copy.touch(mode=PRIVATE_FILE_MODE)
    # Read-only: the backup never writes to the live farm, not even to recover its WAL.
    with sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True) as live, sqlite3.connect(copy) as snapshot:
        live.backup(snapshot, pages=PAGES_PER_STEP)
        snapshot.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        check = snapshot.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise BackupError(f"the copy of {source} failed its integrity check: {check}")
    written = [copy]
    for name in (KEY_FILE_NAME, ADMIN_CREDENTIALS_FILE):
        if (data_dir / name).is_file():
            shutil.copyfile(data_dir / name, target / name)
            (target / name).chmod(PRIVATE_FILE_MODE)
            written.append(target / name)
    return written


@click.command("backup")
@click.argument("target", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="The farm's data directory (default: the one `farmhand server` uses).",
)
def backup_command(target: Path, data_dir: Path | None) -> None:
    """Back up a SQLite farm into TARGET (a new directory), while its server runs."""
    from ._command import default_data_dir

    data_dir = (data_dir or default_data_dir()).resolve()
    written = backup_sqlite_farm(data_dir, target.resolve())
    for path in written:
        click.echo(f"wrote {path}")
    if not any(path.name == KEY_FILE_NAME for path in written):
        click.echo(
            "the farm's secret is not in a key file: keep FARMHAND_SECRET_KEY with this backup, "
            "the copy cannot be opened without it"
        )
