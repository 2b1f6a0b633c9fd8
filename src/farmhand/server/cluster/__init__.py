"""Several farm servers on one PostgreSQL database: one farm, any server answering any call.

Servers share nothing but the database (and the farm's secret key). What would otherwise live in one
process is carried between them here: wake-ups of long-polling workers and evictions of cached
signing keys (LISTEN/NOTIFY, `_bus`), the farm's housekeeping run by one server at a time with
fail-over (an advisory lock, `_housekeeping`), and locks that serialise what must not run twice at
once (start-up, requests carrying the same client token). On SQLite the farm has a single server
and all of this collapses to in-process behaviour.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, func, select

from ..store import Store, advisory_key
from ._bus import KEYS_CHANNEL, WORK_CHANNEL, NotificationBus
from ._connections import close_quietly, dedicated_connection
from ._housekeeping import Housekeeper, Leadership

__all__ = ["KEYS_CHANNEL", "WORK_CHANNEL", "Cluster", "exclusive_in_transaction", "startup_lock"]


class Cluster:
    """This server's place among the servers of its farm."""

    def __init__(self, store: Store, stopping: threading.Event) -> None:
        self.node_id = f"node-{secrets.token_hex(6)}"
        self.shared = not store.is_sqlite
        self.store = store
        self.stopping = stopping
        self.leadership = Leadership(store.engine if self.shared else None)
        self.housekeeper = Housekeeper(self.leadership, stopping)
        self.bus: NotificationBus | None = None

    def connect(
        self,
        *,
        on_work: Callable[[], None],
        on_key_changed: Callable[[str], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        """Start hearing the other servers (PostgreSQL only)."""
        if not self.shared or self.bus is not None:
            return
        self.bus = NotificationBus(
            self.store.engine,
            self.node_id,
            on_work=on_work,
            on_key_changed=on_key_changed,
            on_reconnect=on_reconnect,
            stopping=self.stopping,
        )
        self.bus.start()

    def publish_work(self) -> None:
        if self.bus is not None:
            self.bus.publish_work()

    def housekeeping(self, every_seconds: float, work: Callable[[], object], name: str) -> None:
        """A farm-wide duty, run every `every_seconds` by whichever server keeps house."""
        self.housekeeper.add(every_seconds, work, name)

    @property
    def keeps_house(self) -> bool:
        return self.leadership.is_leader

    @property
    def keeping_house_since(self) -> dt.datetime | None:
        return self.leadership.since

    def close(self) -> None:
        self.stopping.set()
        if self.bus is not None:
            self.bus.close()
        self.housekeeper.join()
        self.leadership.close()


@contextmanager
def startup_lock(store: Store) -> Iterator[None]:
    """Serialise the start-up of servers on one database (migrations, first-start bootstrap)."""
    if store.is_sqlite:
        yield
        return
    conn = dedicated_connection(store.engine)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (advisory_key("farmhand-startup"),))
        yield
    finally:
        close_quietly(conn)  # ending the session releases the lock


def exclusive_in_transaction(conn: Connection, name: str) -> None:
    """Hold the lock `name` until `conn`'s transaction ends, waiting for whoever holds it.

    On PostgreSQL this excludes every server of the farm; SQLite's writers are already serialised.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(advisory_key(name))))
