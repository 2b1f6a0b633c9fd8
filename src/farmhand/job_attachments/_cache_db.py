"""Local SQLite caches shared by concurrent submitters on one workstation.

WAL journal, a long busy timeout and short write transactions (`BEGIN IMMEDIATE`, one per batch)
mean two submissions hashing at once wait for each other's commit instead of failing with
"database is locked". A cache file that cannot be opened as a database is set aside and rebuilt:
losing a cache costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CacheDatabase", "default_cache_dir"]

log = logging.getLogger("farmhand.job_attachments")

BUSY_TIMEOUT_SECONDS = 120.0


def default_cache_dir() -> Path:
    """`~/.deadline/cache`, the directory the Deadline Cloud CLI keeps its caches in."""
    return Path(os.path.expanduser("~")) / ".deadline" / "cache"


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL once (the mode is kept in the file), waiting out other processes.

    Changing the journal mode can answer "database is locked" at once, without SQLite's busy handler,
    while another process opens or converts the same file: retry with backoff within the busy timeout.
    """
    give_up = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > give_up:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class CacheDatabase:
    """One cache file; a connection per thread, created on first use."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.schema = schema
        self._local = threading.local()
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _prepare(self) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                conn = self._connect()
                conn.executescript(self.schema)
                conn.close()
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                    raise
                log.warning("cache %s is unusable (%s); starting a new one", self.path, error)
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(f"{self.path}{suffix}", f"{self.path}{suffix}.broken")
                conn = self._connect()
                conn.executescript(self.schema)
                conn.close()
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
            self._ready = True

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self._prepare()
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
