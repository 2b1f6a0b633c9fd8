"""Wake long-polling workers when work may have appeared.

A farmhand worker that is idle sends `x-farmhand-wait-seconds: N`; when its UpdateWorkerSchedule
finds nothing to assign, the dispatcher waits (outside any transaction, and on the event loop rather
than in a thread, so thousands of idle workers hold no threads) for the generation counter to move,
then asks again. Every committed write that can make work ready bumps the counter, and is
passed on to the farm's other servers by the publishers (see `server.cluster`); what they pass on
only wakes this server's waiters.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._runtime import ServerRuntime

WAIT_HEADER = "x-farmhand-wait-seconds"
MAX_WAIT_SECONDS = 60.0


class WorkSignal:
    """A generation counter with a condition: cheap to bump, waitable past a seen generation."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.generation = 0
        self._publishers: list[Callable[[], None]] = []
        # Called after each bump, local or from another server (e.g. the monitor's live updates),
        # outside the condition's lock.
        self.listeners: list[Callable[[], None]] = []
        # Long polls waiting on an event loop (`wait_past_async`): no thread held while they wait.
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def add_publisher(self, publish: Callable[[], None]) -> None:
        """Also call `publish` (which must return at once) whenever work may have appeared here."""
        self._publishers.append(publish)

    def notify(self) -> None:
        """Work may have appeared through this server: wake its waiters and tell the publishers."""
        self.wake()
        for publish in self._publishers:
            publish()

    def wake(self) -> None:
        """Wake this server's waiters only (work appeared elsewhere)."""
        with self._condition:
            self.generation += 1
            self._condition.notify_all()
            waiting, self._async_waiters = self._async_waiters, set()
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for loop, woken in waiting:
            by_loop.setdefault(loop, []).append(woken)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: its waiters are gone
                loop.call_soon_threadsafe(_resolve_all, futures)
        for listener in self.listeners:
            listener()

    def wait_past(self, generation: int, timeout: float) -> bool:
        """Wait until the counter moves past `generation`; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self.generation != generation, timeout)

    async def wait_past_async(self, generation: int, timeout: float) -> bool:
        """As `wait_past`, awaited on the event loop: a waiting long poll holds no thread."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        with self._condition:
            if self.generation != generation:
                return True
            self._async_waiters.add((loop, woken))
        try:
            await asyncio.wait_for(woken, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._condition:
                self._async_waiters.discard((loop, woken))


def _resolve_all(futures: list[asyncio.Future[None]]) -> None:
    for woken in futures:
        if not woken.done():
            woken.set_result(None)


def work_signal(runtime: ServerRuntime) -> WorkSignal:
    """The signal of one server runtime (it owns it)."""
    return runtime.work_signal


def requested_wait(headers: dict[str, str]) -> float:
    """The long-poll wait a request asks for (0 when absent or malformed), capped."""
    raw = headers.get(WAIT_HEADER)
    if not raw:
        return 0.0
    try:
        return max(0.0, min(float(raw), MAX_WAIT_SECONDS))
    except ValueError:
        return 0.0
