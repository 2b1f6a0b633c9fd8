"""Files only their owner may read: the farm's data directory (0700) and everything in it (0600).

Modes are given explicitly when a file or directory is created, so they hold whatever the umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "SecretFileError",
    "make_private_dir",
    "make_tree_private",
    "open_private",
    "open_private_log",
    "read_secret_file",
    "write_private_text",
]


def make_private_dir(path: Path) -> Path:
    """Create `path` as 0700; tighten it if it exists."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def open_private(path: Path, mode: str = "ab") -> IO[bytes]:
    """Open a file for writing ("ab", "wb"), creating it 0600; an existing file is made 0600 too."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)
    return os.fdopen(fd, mode)


def open_private_log(path: Path) -> IO[str]:
    """Append to a text log created 0600, line-buffered: complete up to its last line after a crash."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_APPEND, PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


def write_private_text(path: Path, text: str, *, executable: bool = False) -> None:
    """Replace `path` atomically with `text`, readable (and runnable, if `executable`) by its owner only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open_private(temporary, "wb") as handle:
        handle.write(text.encode("utf-8"))
        if executable:
            os.fchmod(handle.fileno(), PRIVATE_DIR_MODE)
    os.replace(temporary, path)


def make_tree_private(root: Path, entries: Iterable[str]) -> None:
    """Tighten what an older version (or a loose umask) left: nothing readable by group or others.

    Only the named entries of `root` (and everything under those that are directories) are touched:
    a data directory given by the user may hold other things that are none of the farm's business.
    """
    make_private_dir(root)
    for name in entries:
        path = root / name
        if not path.exists() or path.is_symlink():
            continue
        _tighten(path)
        if path.is_dir():
            for directory, dirs, files in os.walk(path):
                for child in (*dirs, *files):
                    _tighten(Path(directory, child))


def _tighten(path: Path) -> None:
    """Take away every group and other permission (an owner-only script keeps its execute bit)."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return
    current = stat.S_IMODE(info.st_mode)
    if current & 0o077:
        os.chmod(path, current & ~0o077)


class SecretFileError(ValueError):
    """A file meant to hold a secret is empty."""


def read_secret_file(path: Path) -> tuple[str, bool]:
    """The secret on the file's first line, and whether the file is private (no group/other access)."""
    private = not path.stat().st_mode & 0o077
    lines = path.read_text().strip().splitlines()
    if not lines or not lines[0].strip():
        raise SecretFileError(f"{path} is empty")
    return lines[0].strip(), private
