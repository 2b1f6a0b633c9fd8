"""Reading a farm's object store by its files, from another process on the farm's own host.

The local workers of `farmhand up` run beside the server as the same user and can read its data
directory (it holds the admin's credentials too, so this reaches nothing they could not). For them
an input is a read of the store's index and blobs instead of a request through the S3 endpoint.
The reader never writes: the index is opened read-only, and nothing is recovered or collected (the
server does that). A blob deleted between reading the entry and opening it (its object was
replaced) is read again from the new entry.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["StoreFiles"]

INDEX_FILE = "index.sqlite3"
_ATTEMPTS = 5
_KEYS_PER_QUERY = 500


class StoreFiles:
    """Whole objects of the farm's store under `root` (`<data dir>/objects`), read-only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._local = threading.local()

    def available(self) -> bool:
        """Whether this process can read the store (it exists and is readable by this user)."""
        index = self.root / INDEX_FILE
        try:
            with index.open("rb"):
                return (self.root / "blobs").is_dir()
        except OSError:
            return False

    def _index(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"{(self.root / INDEX_FILE).resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
            self._local.conn = conn
        return conn

    def read(self, bucket: str, key: str, max_bytes: int) -> bytes | None:
        """The object's bytes; None when it is missing, larger than `max_bytes`, or unreadable here."""
        for _attempt in range(_ATTEMPTS):
            try:
                row = (
                    self._index()
                    .execute(
                        "SELECT size, extents, data FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
                    )
                    .fetchone()
                )
            except sqlite3.Error:
                return None
            if row is None or int(row[0]) > max_bytes:
                return None
            size, extents, data = int(row[0]), row[1], row[2]
            if extents is None:
                return bytes(data or b"")
            try:
                return self._joined(size, str(extents))
            except FileNotFoundError:
                continue  # replaced meanwhile: read the new entry
            except OSError:
                return None
        return None

    def read_many(
        self, bucket: str, keys: Sequence[str], max_bytes: int
    ) -> Iterator[tuple[str, bytes | None]]:
        """(key, bytes or None) for each key, as `read` gives them, a few hundred keys per query of the
        index: a session's inputs are thousands of small objects, and one query each costs more than
        writing them out."""
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = list(keys[start : start + _KEYS_PER_QUERY])
            marks = ",".join("?" * len(chunk))
            try:
                rows = {
                    str(row[0]): row
                    for row in self._index().execute(
                        f"SELECT key, size, extents, data FROM objects WHERE bucket = ? AND key IN ({marks})",
                        (bucket, *chunk),
                    )
                }
            except sqlite3.Error:
                rows = {}
            for key in chunk:
                row = rows.get(key)
                if row is None or int(row[1]) > max_bytes:
                    yield key, None
                elif row[2] is None:
                    yield key, bytes(row[3] or b"")
                else:
                    try:
                        yield key, self._joined(int(row[1]), str(row[2]))
                    except OSError:  # replaced since the query (or unreadable): read alone, again
                        yield key, self.read(bucket, key, max_bytes)

    def _joined(self, size: int, extents: str) -> bytes | None:
        """The bytes of an object kept in blobs (None when they are not its size); OSError when a
        blob cannot be read, FileNotFoundError when it is gone (the object was replaced)."""
        chunks = [self._blob(str(blob_id), int(length)) for blob_id, length in json.loads(extents)]
        joined = b"".join(chunks)
        return joined if len(joined) == size else None

    def _blob(self, blob_id: str, length: int) -> bytes:
        for directory in ("blobs", "staging"):  # committed, and perhaps not yet moved out of staging/
            try:
                with (self.root / directory / blob_id).open("rb") as handle:
                    return handle.read(length)
            except FileNotFoundError:
                continue
        raise FileNotFoundError(blob_id)
