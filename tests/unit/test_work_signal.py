"""The work signal wakes a few long polls of a fleet at a time, not all of them (no thundering herd).

Real asyncio futures on a real event loop; no server. Each scenario gets its own loop on its own
thread: the browser tests' Playwright keeps an event loop running on the main thread for the session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from farmhand.server.worker_plane import WorkSignal
from farmhand.server.worker_plane._signal import HOLD_JITTER, WAKE_PER_GROUP, held_for


async def _waiting(signal: WorkSignal, group: str | None, count: int) -> list[asyncio.Task[bool]]:
    generation = signal.generation
    polls = [asyncio.create_task(signal.wait_past_async(generation, 30, group)) for _ in range(count)]
    await asyncio.sleep(0.01)  # every poll is queued
    return polls


def _run_on_own_loop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(lambda: asyncio.run(scenario())).result()


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def test_a_bump_wakes_a_few_polls_of_each_fleet_and_every_poll_of_no_fleet() -> None:
    async def scenario() -> None:
        signal = WorkSignal()
        # Given 20 long polls of fleet A, 3 of fleet B and 2 of no fleet waiting
        fleet_a = await _waiting(signal, "fleet-a", 20)
        fleet_b = await _waiting(signal, "fleet-b", 3)
        no_fleet = await _waiting(signal, None, 2)
        assert signal.waiting("fleet-a") == 20
        # When work may have appeared
        signal.wake()
        await _settle()
        # Then the first few of fleet A are woken, in the order they began to wait, and all of the others
        assert [p.done() for p in fleet_a] == [True] * WAKE_PER_GROUP + [False] * (20 - WAKE_PER_GROUP)
        assert all(p.done() and p.result() for p in fleet_b + no_fleet)
        assert signal.waiting("fleet-a") == 20 - WAKE_PER_GROUP and signal.waiting("fleet-b") == 0
        # And a woken poll that was served passes the wake on to exactly one more of its fleet
        signal.pass_on("fleet-a")
        await _settle()
        assert sum(p.done() for p in fleet_a) == WAKE_PER_GROUP + 1
        assert fleet_a[WAKE_PER_GROUP].done()
        signal.pass_on("fleet-b")  # nobody left there: nothing happens
        for poll in fleet_a:
            poll.cancel()
        await asyncio.gather(*fleet_a, return_exceptions=True)
        assert signal.waiting("fleet-a") == 0

    _run_on_own_loop(scenario)


def test_a_poll_that_saw_an_older_generation_does_not_wait_and_one_not_woken_times_out() -> None:
    async def scenario() -> None:
        signal = WorkSignal()
        seen = signal.generation
        signal.wake()
        # Given a poll that looked before the last bump: it returns at once
        assert await signal.wait_past_async(seen, 30, "fleet-a") is True
        # Given more polls than a bump wakes, and a short wait: those not woken time out
        polls = [
            asyncio.create_task(signal.wait_past_async(signal.generation, 0.3, "fleet-a"))
            for _ in range(WAKE_PER_GROUP + 2)
        ]
        await asyncio.sleep(0.01)
        signal.wake()
        results = await asyncio.gather(*polls)
        assert results == [True] * WAKE_PER_GROUP + [False] * 2
        assert signal.waiting("fleet-a") == 0

    _run_on_own_loop(scenario)


def test_long_polls_are_held_a_little_less_than_asked_and_not_all_alike() -> None:
    # Given many long polls asking for 20 s
    holds = [held_for(20.0) for _ in range(1000)]
    # Then none is held longer, none much shorter, and they spread (workers that began together drift)
    assert all(20.0 * (1 - HOLD_JITTER) <= hold <= 20.0 for hold in holds)
    assert max(holds) - min(holds) > 20.0 * HOLD_JITTER / 2
