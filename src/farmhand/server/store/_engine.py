"""The store: one engine, migrations applied on open, and transactions the request handlers run in."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import QueuePool

SQLITE_FILE_NAME = "farmhand.db"
_CHANGED = "farmhand.changed_tables"  # in a connection's `info`: what its transaction wrote
_WRITE_TEXT = re.compile(r"\s*(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)

#: A committed transaction's changes: (table, kind) pairs, kind "insert", "update" or "delete".
Changes = frozenset[tuple[str, str]]


class StoreUnavailableError(RuntimeError):
    """The database a URL names cannot be used (a scheme farmhand does not speak, or no connection);
    the message says so in one line, without the password."""


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def _open_engine(url: str, pool: PoolSettings) -> Engine:
    """The engine for a URL, with what is wrong with the URL or the database as one clear error."""
    try:
        return _make_engine(url, pool)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as error:
        raise StoreUnavailableError(
            f"the database URL {_shown(url)} is not one farmhand speaks: use "
            "postgresql+psycopg://user:password@host/database (or sqlite:///path)"
        ) from error
    except OperationalError as error:
        reason = " ".join(str(getattr(error, "orig", error)).split()) or type(error).__name__
        raise StoreUnavailableError(f"the database at {_shown(url)} cannot be reached: {reason}") from error


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / SQLITE_FILE_NAME}"


@dataclass(frozen=True)
class PoolSettings:
    """The connections one server keeps to PostgreSQL, and how long a call waits for one.

    A call finding every connection busy for `timeout_seconds` is answered with a fault its caller
    retries (ThrottlingException), rather than waiting on; a database that does not answer a new
    connection within `connect_timeout_seconds` is treated the same way.
    """

    size: int = 10
    overflow: int = 20
    timeout_seconds: float = 5.0
    connect_timeout_seconds: int = 5


class Store:
    """A database behind the farm: SQLite (WAL) embedded, or PostgreSQL for several servers.

    SQLite durability: WAL with `synchronous=NORMAL`. A transaction is in the WAL file when COMMIT
    returns, so it survives the server being killed (kill -9); only an OS crash or power loss can
    roll back the last commits. Writers are serialised in-process (SQLite has one writer anyway),
    which avoids SQLITE_BUSY on read-to-write upgrades.
    """

    def __init__(self, url: str, *, migrate: bool = True, pool: PoolSettings | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: Engine = _open_engine(url, pool or PoolSettings())
        self._write_lock = threading.RLock() if self.is_sqlite else None
        self._held_names: set[str] = set()
        self._held_names_lock = threading.Lock()
        # Called after each committed write transaction with what it changed (e.g. to drop caches).
        self.committed: list[Callable[[Changes], None]] = []
        event.listen(self.engine, "after_cursor_execute", _note_change)
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the latest revision (Alembic)."""
        from ._migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block ends without an exception."""
        if self._write_lock is not None:
            with self._write_lock, self.engine.connect() as conn:
                conn.info.pop(_CHANGED, None)
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.info.pop(_CHANGED, None)
                    conn.rollback()
                    raise
                conn.commit()
                changes = conn.info.pop(_CHANGED, None)
        else:
            with self.engine.connect() as conn:
                conn.info.pop(_CHANGED, None)
                try:
                    with conn.begin():
                        yield conn
                except BaseException:
                    conn.info.pop(_CHANGED, None)
                    raise
                changes = conn.info.pop(_CHANGED, None)
        if changes:
            for listener in self.committed:
                listener(frozenset(changes))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent snapshot."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Hold the lock called `name` for the block if nobody holds it; yields whether it was taken.

        It is never waited for. On PostgreSQL it is an advisory lock of a connection kept for the
        block, so it excludes every server on the database and is released if this process dies;
        SQLite belongs to one server process, so a lock within the process is enough.
        """
        with self._held_names_lock:
            taken = name not in self._held_names
            if taken:
                self._held_names.add(name)
        if not taken:
            yield False
            return
        try:
            if self.is_sqlite:
                yield True
                return
            key = advisory_key(name)
            with self.engine.connect() as conn:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        conn.commit()
        finally:
            with self._held_names_lock:
                self._held_names.discard(name)

    def dispose(self) -> None:
        self.engine.dispose()


def _note_change(
    conn: Connection, cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool
) -> None:
    """Remember which tables a transaction writes, for `Store.committed` listeners (an update or
    delete that matched no row wrote nothing)."""
    compiled = getattr(context, "compiled", None)
    kind = (
        "insert"
        if getattr(context, "isinsert", False)
        else "update"
        if getattr(context, "isupdate", False)
        else "delete"
        if getattr(context, "isdelete", False)
        else ""
    )
    table = getattr(getattr(compiled, "statement", None), "table", None) if kind else None
    if table is not None:
        name = str(table.name)
    else:  # SQL text (exec_driver_sql): read the verb and table from it
        found = _WRITE_TEXT.match(statement)
        if found is None:
            return
        verb = found.group(1).split()[0].lower()
        kind, name = verb, found.group(2)
    if kind in ("update", "delete") and getattr(cursor, "rowcount", -1) == 0:
        return
    conn.info.setdefault(_CHANGED, set()).add((name.lower(), kind))


def advisory_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64 bits) for a lock name, the same in every process."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def _make_engine(url: str, pool: PoolSettings) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=16,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout_seconds,
        pool_pre_ping=True,  # after a database restart, stale connections are replaced on checkout
        connect_args={"connect_timeout": pool.connect_timeout_seconds},
    )
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine
