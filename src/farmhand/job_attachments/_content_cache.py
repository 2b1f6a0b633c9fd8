"""A per-host cache of file contents by hash, linked into session directories.

Workers keep what they download in `<cache>/<2 hex>/<hash>` (read-only), so the same input crosses
the network once per host rather than once per session. An index (`index.db`) records each entry's
size and mtime: an entry whose file no longer matches (a job running as root wrote through a link)
is dropped and fetched again, never handed out. Placing a file is a hard link when the cached copy
has the mtime the manifest wants (one inode cannot have two mtimes) and the caller allows it,
otherwise a copy (`copy_file_range`, which reflinks where the file system can), also across file
systems.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import xxhash

from .._spread_directories import spread_subdirectories
from ._cache_db import CacheDatabase
from ._errors import ObjectIntegrityError

__all__ = ["ContentCache", "default_content_cache_dir", "place_bytes", "place_new_bytes"]

READ_ONLY = 0o444
_CHUNK = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries_v1 (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    used REAL NOT NULL
) WITHOUT ROWID;
"""


def default_content_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "farmhand" / "attachments"


def _fill(fd: int, data: bytes | memoryview, mtime_us: int | None) -> None:
    """Write all of `data` to a new file's descriptor, then give it the mtime (if any)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if mtime_us is not None:
        os.utime(fd, ns=(mtime_us * 1000, mtime_us * 1000))


def _write_new(path: str, data: bytes | memoryview, mode: int, mtime_us: int | None = None) -> None:
    """Create `path` with `mode` (the descriptor can write even when the mode is read-only) and,
    if given, the mtime; one open, write, utime and close."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        _fill(fd, data, mtime_us)
    finally:
        os.close(fd)


def place_bytes(data: bytes | memoryview, destination: str, mtime_us: int, mode: int = 0o644) -> None:
    """Write `data` as `destination` (replacing it atomically), with the manifest's mtime."""
    temporary = f"{destination}.{secrets.token_hex(4)}.part"
    _write_new(temporary, data, mode, mtime_us)
    os.replace(temporary, destination)


def place_new_bytes(data: bytes | memoryview, destination: str, mtime_us: int, mode: int = 0o644) -> None:
    """Write `data` as `destination` in place when nothing is there yet (one create instead of a
    create and a rename; a failed write leaves no file), else replace it as `place_bytes` does.

    `O_NOFOLLOW` with `O_EXCL`: a link planted at the destination is never written through."""
    try:
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except FileExistsError:
        place_bytes(data, destination, mtime_us, mode)
        return
    try:
        _fill(fd, data, mtime_us)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(destination)
        raise
    os.close(fd)


class FarmObjects(Protocol):
    """A farm's object store read by its files (on the farm's own host): see `ContentCache`."""

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes | None: ...

    def read_many(
        self, bucket: str, keys: Sequence[str], max_bytes: int
    ) -> Iterable[tuple[str, bytes | None]]: ...


class ContentCache:
    """Content files by xxh128 in one directory tree shared by the workers of a host.

    `farm_objects`: on the farm's own host, its object store read by its files; what is missing here
    is taken from there (verified by its hash like any download) instead of through the S3 endpoint,
    and its small objects are written straight into place: the store already is this host's copy.
    """

    def __init__(self, directory: str | Path, *, farm_objects: FarmObjects | None = None) -> None:
        self.farm_objects = farm_objects
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        spread_subdirectories(self.directory)  # away from the groups where sessions come and go
        self.index = CacheDatabase(self.directory / "index.db", _SCHEMA)
        self._links_work = True
        self._folders: set[str] = set()

    def path(self, digest: str) -> str:
        return os.path.join(self.directory, digest[:2], digest)

    def available(self, wanted: Sequence[tuple[str, int]]) -> dict[str, int]:
        """Of (hash, size) pairs, those cached intact: hash -> the cached file's mtime_ns."""
        conn = self.index.connection()
        sizes = dict(wanted)
        digests = list(sizes)
        recorded: dict[str, tuple[int, int]] = {}
        for start in range(0, len(digests), _CHUNK):
            chunk = digests[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for digest, size, mtime in conn.execute(
                f"SELECT hash, size, mtime_ns FROM entries_v1 WHERE hash IN ({marks})", chunk
            ):
                recorded[digest] = (size, mtime)
        found: dict[str, int] = {}
        stale: list[str] = []
        for digest, (size, mtime) in recorded.items():
            try:
                info = os.stat(self.path(digest))
            except FileNotFoundError:
                stale.append(digest)
                continue
            if size != sizes[digest] or (info.st_size, info.st_mtime_ns) != (size, mtime):
                stale.append(digest)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(digest))
                continue
            found[digest] = mtime
        if stale or found:
            now = time.time()
            with self.index.write() as write:
                write.executemany("DELETE FROM entries_v1 WHERE hash = ?", [(d,) for d in stale])
                write.executemany("UPDATE entries_v1 SET used = ? WHERE hash = ?", [(now, d) for d in found])
        return found

    def record(self, entries: Iterable[tuple[str, int, int]]) -> None:
        """Index files stored with `store`/`adopt`: (hash, size, mtime_ns), one transaction."""
        now = time.time()
        rows = [(digest, size, mtime, now) for digest, size, mtime in entries]
        if rows:
            with self.index.write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO entries_v1 (hash, size, mtime_ns, used) VALUES (?, ?, ?, ?)", rows
                )

    def store(self, digest: str, data: bytes | memoryview, mtime_us: int) -> tuple[str, int, int]:
        """Keep content (already checked against its hash) under its hash with this mtime (us);
        returns the entry to `record` (the caller indexes many at once)."""
        target = self.path(digest)
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True, mode=0o700)
            self._folders.add(folder)
        temporary = f"{target}.{secrets.token_hex(4)}.part"
        _write_new(temporary, data, READ_ONLY, mtime_us)
        os.replace(temporary, target)
        return digest, len(data), mtime_us * 1000

    def add_many(self, items: Sequence[tuple[str, bytes | memoryview, int]]) -> None:
        """Verify and keep contents, indexed in one transaction."""
        entries = []
        for digest, data, mtime_us in items:
            if xxhash.xxh3_128_hexdigest(data) != digest:
                raise ObjectIntegrityError(
                    f"the object stored for {digest} does not hash to it; it was not used"
                )
            entries.append(self.store(digest, data, mtime_us))
        self.record(entries)

    def adopt(self, digest: str, temporary: str, size: int, mtime_us: int) -> tuple[str, int, int]:
        """Move a downloaded (and verified) file into the cache; returns the entry to `record`."""
        target = self.path(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True, mode=0o700)
        self._finish(temporary, target, mtime_us)
        return digest, size, mtime_us * 1000

    @staticmethod
    def _finish(temporary: str, target: str, mtime_us: int) -> None:
        os.chmod(temporary, READ_ONLY)
        os.utime(temporary, ns=(mtime_us * 1000, mtime_us * 1000))
        os.replace(temporary, target)

    def place(
        self, digest: str, cached_mtime_ns: int, destination: str, mtime_us: int, *, link: bool
    ) -> bool:
        """Put the cached content at `destination` with the manifest's mtime; True if hard-linked."""
        source = self.path(digest)
        if link and self._links_work and cached_mtime_ns == mtime_us * 1000:
            try:
                try:
                    os.link(source, destination)
                except FileExistsError:
                    temporary = f"{destination}.{secrets.token_hex(4)}.part"
                    os.link(source, temporary)
                    os.replace(temporary, destination)
                return True
            except OSError as error:
                if error.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    self._links_work = False
                elif error.errno != errno.EMLINK:
                    raise
        temporary = f"{destination}.{secrets.token_hex(4)}.part"
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
        os.utime(temporary, ns=(mtime_us * 1000, mtime_us * 1000))
        os.replace(temporary, destination)
        return False
