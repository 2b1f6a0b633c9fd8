"""The object index: one SQLite database (WAL) beside the blobs, and the thread that commits to it.

Every change (a new object, a part, a completed upload, a bucket) is a small function run inside a
write transaction by one committer thread. The thread takes whatever changes are waiting and commits
them together, so concurrent PUTs share one fsync (group commit); each change runs in its own
savepoint, so one failing change (say, NoSuchBucket) leaves the others in the batch untouched.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Batch", "Index"]

T = TypeVar("T")

WAL_SIZE_LIMIT = 4 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified REAL NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    checksums TEXT NOT NULL,
    extents TEXT,
    parts_count INTEGER,
    data BLOB,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    created REAL NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    checksum_algorithm TEXT
);
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key);
CREATE INDEX IF NOT EXISTS uploads_by_age ON uploads (created);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified REAL NOT NULL,
    checksums TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
-- Blobs whose index entry is committed but that may still sit in staging/ (moved after the commit).
CREATE TABLE IF NOT EXISTS landed (blob TEXT PRIMARY KEY);
-- Blobs no longer referenced (replaced, aborted, expired): deleted from disk after the commit.
CREATE TABLE IF NOT EXISTS garbage (blob TEXT PRIMARY KEY);
"""


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    # After a checkpoint the WAL shrinks back to this size instead of keeping its largest: the space
    # freed by deleting objects comes back even on a nearly full disk.
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    return conn


class Batch:
    """What the changes of one transaction ask to happen around its commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.staged: list[str] = []  # blobs in staging/ this transaction makes reachable
        self.garbage: list[str] = []  # blobs this transaction makes unreachable


class Index:
    """The SQLite index: reads on per-thread connections, writes through the committer thread."""

    MAX_BATCH = 256

    def __init__(
        self, path: Path, on_commit: Callable[[Batch], None], before_commit: Callable[[Batch], None]
    ):
        self.path = path
        with connect(path) as setup:
            setup.executescript(_SCHEMA)
        self._local = threading.local()
        self._queue: queue.SimpleQueue[tuple[Callable[[Batch], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._on_commit = on_commit
        self._before_commit = before_commit
        self._writer = connect(path)
        self._thread = threading.Thread(target=self._run, name="object-index-committer", daemon=True)
        self._thread.start()

    def reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def submit(self, change: Callable[[Batch], T]) -> Future[T]:
        """Run `change` in the next write transaction; the future resolves once it is durable."""
        future: Future[T] = Future()
        self._queue.put((change, future))
        return future

    def write(self, change: Callable[[Batch], T]) -> T:
        return self.submit(change).result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)
        self._writer.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            stop = False
            while len(items) < self.MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                items.append(item)
            self._commit(items)
            if stop:
                return

    def _commit(self, items: list[tuple[Callable[[Batch], Any], Future[Any]]]) -> None:
        conn = self._writer
        batch = Batch(conn)
        results: list[tuple[Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for change, future in items:
                if not future.set_running_or_notify_cancel():
                    continue
                conn.execute("SAVEPOINT change")
                staged, garbage = len(batch.staged), len(batch.garbage)
                try:
                    result = change(batch)
                except BaseException as exc:
                    conn.execute("ROLLBACK TO change")
                    conn.execute("RELEASE change")
                    del batch.staged[staged:], batch.garbage[garbage:]
                    results.append((future, False, exc))
                else:
                    conn.execute("RELEASE change")
                    results.append((future, True, result))
            self._before_commit(batch)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
                # Disk full: give the WAL's pages back so deletes (and later writes) can proceed.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for _change, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        try:
            self._on_commit(batch)
        finally:
            for future, ok, value in results:
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
