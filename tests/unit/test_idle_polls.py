"""Idle polls answered without a schedule transaction: only while nothing moved, only for a while,
and their heartbeats written in one statement. A real SQLite store."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import insert, select

from farmhand.server.store import Store, workers
from farmhand.server.worker_plane import IdlePolls

KEY = ("farm-1", "fleet-1", "worker-1")
IDLE = {"assignedSessions": {}, "cancelSessionActions": {}, "updateIntervalSeconds": 2}
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def add_worker(store: Store, worker_id: str, last_seen: dt.datetime | None) -> None:
    with store.write() as conn:
        conn.execute(
            insert(workers).values(
                worker_id=worker_id,
                farm_id="farm-1",
                fleet_id="fleet-1",
                status="IDLE",
                created_at=T0,
                created_by="someone",
                last_seen_at=last_seen,
            )
        )


def last_seen(store: Store, worker_id: str) -> dt.datetime | None:
    with store.read() as conn:
        value = conn.execute(select(workers.c.last_seen_at).where(workers.c.worker_id == worker_id)).scalar()
    return value if value is None else value.replace(tzinfo=dt.UTC)


def test_an_answer_is_given_again_only_while_the_generation_stands(store: Store) -> None:
    # Given an attempt at generation 7 that found no work
    polls = IdlePolls(store, worker_timeout=60)
    polls.remember(KEY, 7, IDLE, 20.0)
    # Then at generation 7 the same answer and wait are given, as a fresh copy
    again = polls.answer(KEY, 7)
    assert again == (IDLE, 20.0) and again[0] is not IDLE
    # But not to another worker, nor once the generation moved (and then not any more)
    assert polls.answer(("farm-1", "fleet-1", "worker-2"), 7) is None
    assert polls.answer(KEY, 8) is None
    assert polls.answer(KEY, 7) is None


def test_an_answer_is_forgotten_when_the_worker_calls_otherwise_or_after_half_the_timeout(
    store: Store,
) -> None:
    # Given remembered answers
    polls = IdlePolls(store, worker_timeout=0.2)
    polls.remember(KEY, 1, IDLE, 0.1)
    # When the worker makes another call: forgotten
    polls.forget("worker-1")
    assert polls.answer(KEY, 1) is None
    # When half the worker timeout has passed: forgotten (a worker declared silent gets a full look)
    polls.remember(KEY, 1, IDLE, 0.1)
    time.sleep(0.11)
    assert polls.answer(KEY, 1) is None


def test_heartbeats_are_written_together_and_never_move_back(store: Store) -> None:
    # Given two workers, one seen later than the beat about to be written
    add_worker(store, "worker-1", T0)
    add_worker(store, "worker-2", T0 + dt.timedelta(minutes=5))
    polls = IdlePolls(store, worker_timeout=60)
    # When both are heard and the beats are flushed
    polls.beat("worker-1", T0 + dt.timedelta(minutes=1))
    polls.beat("worker-2", T0 + dt.timedelta(minutes=1))
    polls.flush()
    # Then the first moved forward and the second kept its later time
    assert last_seen(store, "worker-1") == T0 + dt.timedelta(minutes=1)
    assert last_seen(store, "worker-2") == T0 + dt.timedelta(minutes=5)


def test_heartbeats_are_kept_when_the_store_is_away(store: Store) -> None:
    # Given a beat and a store that fails
    add_worker(store, "worker-1", T0)
    polls = IdlePolls(store, worker_timeout=60)
    polls.beat("worker-1", T0 + dt.timedelta(minutes=1))
    write = store.write

    def away():  # type: ignore[no-untyped-def]
        raise OSError("database away")

    store.write = away  # type: ignore[method-assign]
    with pytest.raises(OSError):
        polls.flush()
    # When it is back, the next flush writes the beat
    store.write = write  # type: ignore[method-assign]
    polls.flush()
    assert last_seen(store, "worker-1") == T0 + dt.timedelta(minutes=1)


def test_nothing_is_remembered_on_a_farm_of_several_servers(store: Store) -> None:
    # Given the idle polls of a server that may share its database (PostgreSQL)
    polls = IdlePolls(store, worker_timeout=60, enabled=False)
    # When an attempt found no work
    polls.remember(KEY, 7, IDLE, 20.0)
    # Then the next poll looks again (another server may have handed the worker a session)
    assert polls.answer(KEY, 7) is None
