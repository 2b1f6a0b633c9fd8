"""The farm's housekeeping, run by one server at a time, with fail-over when that server goes away.

Duties such as reclaiming the work of silent workers act on the whole farm; with several servers on
one database they must not run twice at once. The server that holds the PostgreSQL advisory lock
`farmhand-housekeeping` (on a connection of its own, with keepalives) runs them; the others try to
take the lock every second. The database releases the lock when the holder's session ends, so when
a server is killed, stopped or cut off, another one takes over within about a second (a network cut
is noticed by the keepalives, within about 25 s). Before each duty the holder checks that its
session is still alive, so a server that lost the lock stops at once.

On SQLite the farm has one server, which always keeps house.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from .._store_faults import is_store_fault
from ..store import advisory_key
from ._connections import close_quietly, dedicated_connection

log = logging.getLogger("farmhand.server.cluster")

HOUSEKEEPING_LOCK = "farmhand-housekeeping"
TICK_SECONDS = 0.2
CLAIM_EVERY_SECONDS = 1.0


@dataclass
class Duty:
    name: str
    every_seconds: float
    work: Callable[[], object]
    due_at: float = field(default=0.0)


class Leadership:
    """Whether this server holds the housekeeping lock (always, for a server of its own)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._conn: Any = None
        self._lock = threading.Lock()
        self.since: dt.datetime | None = dt.datetime.now(dt.UTC) if engine is None else None
        self._last_claim = 0.0

    @property
    def is_leader(self) -> bool:
        return self.since is not None

    def confirm(self) -> bool:
        """Do we (still) lead? Tries to take the lock when we do not, at most once a second."""
        if self.engine is None:
            return True
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("SELECT 1")
                    return True
                except Exception as exc:
                    log.warning("this server lost the housekeeping lock (%s)", exc)
                    self._release()
            now = time.monotonic()
            if now - self._last_claim < CLAIM_EVERY_SECONDS:
                return False
            self._last_claim = now
            return self._claim()

    def _claim(self) -> bool:
        conn = None
        try:
            conn = dedicated_connection(self.engine)  # type: ignore[arg-type]
            got = conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (advisory_key(HOUSEKEEPING_LOCK),)
            ).fetchone()
        except Exception as exc:
            log.debug("could not try the housekeeping lock: %s", exc)
            close_quietly(conn)
            return False
        if not (got and got[0]):
            close_quietly(conn)
            return False
        self._conn = conn
        self.since = dt.datetime.now(dt.UTC)
        log.info("this server now keeps house for the farm")
        return True

    def _release(self) -> None:
        close_quietly(self._conn)
        self._conn = None
        self.since = None

    def close(self) -> None:
        with self._lock:
            self._release()


class Housekeeper:
    """Runs the registered duties on one thread, each at its interval, while this server leads."""

    def __init__(self, leadership: Leadership, stopping: threading.Event) -> None:
        self.leadership = leadership
        self.stopping = stopping
        self.duties: list[Duty] = []
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, every_seconds: float, work: Callable[[], object], name: str) -> None:
        with self._lock:
            self.duties.append(Duty(name, every_seconds, work))
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="farmhand-housekeeping", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        led = False
        while not self.stopping.wait(TICK_SECONDS):
            with self._lock:
                duties = list(self.duties)
            now = time.monotonic()
            due = [d for d in duties if d.due_at <= now]
            if not due and led:
                continue
            led = self.leadership.confirm()
            if not led:
                for duty in duties:
                    duty.due_at = 0.0  # a new leader starts every duty at once
                continue
            for duty in due:
                if self.stopping.is_set() or not self.leadership.confirm():
                    break
                duty.due_at = time.monotonic() + duty.every_seconds
                try:
                    duty.work()
                except Exception as exc:
                    if is_store_fault(exc):  # the database is away: the next round tries again
                        log.warning("%s: the database failed (%s)", duty.name, str(exc).splitlines()[0])
                    else:
                        log.exception("%s failed", duty.name)

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
