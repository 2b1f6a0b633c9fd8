"""The hash cache: a file's xxh128 remembered by (path, size, mtime_ns, inode, ctime_ns).

Keyed on what a change of the file changes, with integer nanoseconds (time-zone proof, unlike a
local-time string), so a hit needs no read at all. The ctime catches what the rest can miss: a file
rewritten in place with its mtime put back, or replaced by one that reused the inode number.
Lookups and updates go in batches: one query per few hundred paths, one transaction per batch of
new hashes. A file modified within a clock tick of being read could keep its mtime, so entries
hashed that soon after their last change are not stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ._cache_db import CacheDatabase, default_cache_dir
from ._hashing import FileDigest

__all__ = ["HashCache"]

# Linux stamps mtimes from a coarse clock (one tick, up to 10 ms behind the real one).
RACY_WINDOW_NS = 50_000_000
_LOOKUP_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_hashes_v1 (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
) WITHOUT ROWID;
"""


def _key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


class HashCache:
    """`farmhand-hashes.db` in the cache directory (`~/.deadline/cache` unless given)."""

    FILE_NAME = "farmhand-hashes.db"

    def __init__(self, directory: str | Path | None = None) -> None:
        self.db = CacheDatabase(Path(directory or default_cache_dir()) / self.FILE_NAME, _SCHEMA)

    def lookup(self, stats: Sequence[tuple[str, int, int, int, int]]) -> dict[str, str]:
        """Hashes of the files whose (path, size, mtime_ns, inode, ctime_ns) match a cached entry."""
        conn = self.db.connection()
        wanted = {_key(path): tuple(rest) for path, *rest in stats}
        keys = list(wanted)
        found: dict[str, str] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT path, size, mtime_ns, inode, ctime_ns, hash FROM file_hashes_v1"
                f" WHERE path IN ({marks})",
                chunk,
            )
            for path, size, mtime, inode, ctime, digest in rows:
                if wanted.get(path) == (size, mtime, inode, ctime):
                    found[path.decode("utf-8", "surrogateescape")] = digest
        return found

    def store(self, digests: Iterable[FileDigest]) -> None:
        rows = [
            (_key(d.path), d.size, d.mtime_ns, d.inode, d.ctime_ns, d.hash)
            for d in digests
            if d.hashed_at_ns - max(d.mtime_ns, d.ctime_ns) > RACY_WINDOW_NS
        ]
        if not rows:
            return
        with self.db.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO file_hashes_v1 (path, size, mtime_ns, inode, ctime_ns, hash)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
