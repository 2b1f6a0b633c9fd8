"""Wake long-polling workers when work may have appeared.

A farmhand worker that is idle sends `x-farmhand-wait-seconds: N`; when its UpdateWorkerSchedule
finds nothing to assign, the dispatcher waits (outside any transaction, and on the event loop rather
than in a thread, so thousands of idle workers hold no threads) for the generation counter to move,
then asks again. Every committed write that can make work ready bumps the counter, and is
passed on to the farm's other servers by the publishers (see `server.cluster`); what they pass on
only wakes this server's waiters.

Waking every waiter of a fleet for every such write is a thundering herd: with thousands of idle
workers, one new task would cost thousands of schedule transactions, all but one finding nothing.
So the long polls of one fleet queue up, and a bump wakes only the first `WAKE_PER_GROUP` of each
fleet; a woken poll that was handed work passes the wake on to the next one of its fleet
(`pass_on`), so as many polls run as there is work for, a few at a time. One that finds nothing
does not pass it on (the work went to another); a poll that could not take work the others could
not take either (a failure cap, say) is covered by the others woken with it and, at worst, by its
wait ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._runtime import ServerRuntime

WAIT_HEADER = "x-farmhand-wait-seconds"
MAX_WAIT_SECONDS = 60.0
# Long polls of one fleet woken at once by a bump: enough to keep both the schedule transactions and
# the threads that run them busy, few enough that a task costs a handful of attempts, not thousands.
WAKE_PER_GROUP = 8
# A long poll is held for its wait less up to this share of it, at random (see `held_for`).
HOLD_JITTER = 0.2


class WorkSignal:
    """A generation counter with a condition: cheap to bump, waitable past a seen generation."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.generation = 0
        self._publishers: list[Callable[[], None]] = []
        # Called after each bump, local or from another server (e.g. the monitor's live updates),
        # outside the condition's lock.
        self.listeners: list[Callable[[], None]] = []
        # Long polls waiting on an event loop (`wait_past_async`), no thread held while they wait:
        # per group (a fleet), in the order they began to wait.
        self._async_waiters: dict[str | None, dict[asyncio.Future[None], asyncio.AbstractEventLoop]] = {}

    def add_publisher(self, publish: Callable[[], None]) -> None:
        """Also call `publish` (which must return at once) whenever work may have appeared here."""
        self._publishers.append(publish)

    def notify(self) -> None:
        """Work may have appeared through this server: wake its waiters and tell the publishers."""
        self.wake()
        for publish in self._publishers:
            publish()

    def wake(self) -> None:
        """Wake this server's waiters only (work appeared elsewhere): every thread waiter, and the
        first `WAKE_PER_GROUP` long polls of each group (all of those without a group)."""
        with self._condition:
            self.generation += 1
            self._condition.notify_all()
            chosen: list[tuple[asyncio.Future[None], asyncio.AbstractEventLoop]] = []
            for group, waiters in self._async_waiters.items():
                chosen += _take(waiters, len(waiters) if group is None else WAKE_PER_GROUP)
        _resolve(chosen)
        for listener in self.listeners:
            listener()

    def pass_on(self, group: str | None) -> None:
        """A woken long poll of `group` was handed work: there may be more, wake its next waiter."""
        with self._condition:
            waiters = self._async_waiters.get(group)
            chosen = _take(waiters, 1) if waiters else []
        _resolve(chosen)

    def wait_past(self, generation: int, timeout: float) -> bool:
        """Wait until the counter moves past `generation`; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self.generation != generation, timeout)

    async def wait_past_async(self, generation: int, timeout: float, group: str | None = None) -> bool:
        """As `wait_past`, awaited on the event loop (a waiting long poll holds no thread), in the
        queue of `group`: True when woken (by a bump or a `pass_on`), False on timeout."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        with self._condition:
            if self.generation != generation:
                return True
            self._async_waiters.setdefault(group, {})[woken] = loop
        try:
            await asyncio.wait_for(woken, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._condition:
                waiters = self._async_waiters.get(group)
                if waiters is not None:
                    waiters.pop(woken, None)
                    if not waiters:
                        del self._async_waiters[group]

    def waiting(self, group: str | None = None) -> int:
        """How many long polls of `group` wait now (for tests and metrics)."""
        with self._condition:
            return len(self._async_waiters.get(group, ()))


def _take(
    waiters: dict[asyncio.Future[None], asyncio.AbstractEventLoop], count: int
) -> list[tuple[asyncio.Future[None], asyncio.AbstractEventLoop]]:
    """Remove and return the first `count` waiters (call with the condition held)."""
    chosen = []
    for woken in list(itertools.islice(waiters, count)):
        chosen.append((woken, waiters.pop(woken)))
    return chosen


def _resolve(chosen: list[tuple[asyncio.Future[None], asyncio.AbstractEventLoop]]) -> None:
    """Resolve the chosen waiters' futures on their own loops."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for woken, loop in chosen:
        by_loop.setdefault(loop, []).append(woken)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: its waiters are gone
            loop.call_soon_threadsafe(_resolve_all, futures)


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


def held_for(wait: float) -> float:
    """How long to hold a long poll that asked for `wait`: a little less, at random. Workers that
    began together (a farm or network restart) would otherwise come back together every wait, a
    burst of schedule calls that delays the calls handing out new work; with this they drift apart
    within a few waits."""
    return wait * (1.0 - HOLD_JITTER * random.random())
