"""Messages between the servers of one farm, through PostgreSQL's LISTEN/NOTIFY.

Two channels:

* `farmhand_work`: "work may have appeared". A server publishes it after a committed write that can
  make work ready; every other server wakes the workers it holds in long polls, which then look
  again. Publishing is coalesced on a thread of its own, so a burst of writes costs one NOTIFY and
  no request waits for it. The payload is the publishing server's id, so a server ignores its own.
* `farmhand_keys`: an access key was deleted or changed (sign-out, a disabled user, expired
  credentials swept). A trigger of the `access_keys` table sends it when the change commits, whoever
  made it; every server drops that key from its cache of signing keys.

A lost connection is retried with a backoff. Notifications sent meanwhile are lost, so a server
that reconnects wakes every long poll and empties its key cache, as if it had heard everything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from ._connections import close_quietly, dedicated_connection

log = logging.getLogger("farmhand.server.cluster")

WORK_CHANNEL = "farmhand_work"
KEYS_CHANNEL = "farmhand_keys"
RECONNECT_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
LISTEN_TICK_SECONDS = 0.5


class NotificationBus:
    """One server's listener and publisher on the farm's database."""

    def __init__(
        self,
        engine: Engine,
        node_id: str,
        *,
        on_work: Callable[[], None],
        on_key_changed: Callable[[str], None],
        on_reconnect: Callable[[], None],
        stopping: threading.Event,
    ) -> None:
        self.engine = engine
        self.node_id = node_id
        self.on_work = on_work
        self.on_key_changed = on_key_changed
        self.on_reconnect = on_reconnect
        self.stopping = stopping
        self.connected = threading.Event()
        self.published = 0
        self.received = 0
        self._publish_wanted = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target, name in (
            (self._listen_loop, "farmhand-listen"),
            (self._publish_loop, "farmhand-publish"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def publish_work(self) -> None:
        """Tell the other servers that work may have appeared (returns at once)."""
        self._publish_wanted.set()

    def close(self) -> None:
        self.stopping.set()
        self._publish_wanted.set()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- listening -------------------------------------------------------------------------------

    def _listen_loop(self) -> None:
        failures = 0
        first = True
        while not self.stopping.is_set():
            conn = None
            try:
                conn = dedicated_connection(self.engine)
                conn.execute(f"LISTEN {WORK_CHANNEL}")
                conn.execute(f"LISTEN {KEYS_CHANNEL}")
                self.connected.set()
                if not first:
                    log.info("listening to the other servers again")
                    self.on_reconnect()
                first = False
                failures = 0
                while not self.stopping.is_set():
                    for notification in conn.notifies(timeout=LISTEN_TICK_SECONDS):
                        self._deliver(notification.channel, notification.payload)
            except Exception as exc:
                self.connected.clear()
                if self.stopping.is_set():
                    break
                delay = RECONNECT_BACKOFF_SECONDS[min(failures, len(RECONNECT_BACKOFF_SECONDS) - 1)]
                failures += 1
                log.warning("lost the database's notifications (%s); reconnecting in %.1fs", exc, delay)
                self.stopping.wait(delay)
            finally:
                close_quietly(conn)
        self.connected.clear()

    def _deliver(self, channel: str, payload: str) -> None:
        self.received += 1
        try:
            if channel == WORK_CHANNEL and payload != self.node_id:
                self.on_work()
            elif channel == KEYS_CHANNEL:
                self.on_key_changed(payload)
        except Exception:
            log.exception("handling a %s notification failed", channel)

    # -- publishing ------------------------------------------------------------------------------

    def _publish_loop(self) -> None:
        conn: Any = None
        failures = 0
        while True:
            self._publish_wanted.wait()
            if self.stopping.is_set():
                break
            self._publish_wanted.clear()
            try:
                if conn is None:
                    conn = dedicated_connection(self.engine)
                conn.execute("SELECT pg_notify(%s, %s)", (WORK_CHANNEL, self.node_id))
                self.published += 1
                failures = 0
            except Exception as exc:
                close_quietly(conn)
                conn = None
                delay = RECONNECT_BACKOFF_SECONDS[min(failures, len(RECONNECT_BACKOFF_SECONDS) - 1)]
                failures += 1
                log.warning("could not tell the other servers about new work (%s)", exc)
                self._publish_wanted.set()  # try again: the news is still true
                if self.stopping.wait(delay):
                    break
        close_quietly(conn)
