"""Idle polls answered without a schedule transaction: only while nothing moved, only for a while,
and their heartbeats written in one statement. A real SQLite store."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import insert, select

from farmhand.server.store import TASK_RUN_STATUSES, Store, count_column, jobs, resources, workers
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


def associate(store: Store, queue_id: str, status: str = "ACTIVE") -> None:
    with store.write() as conn:
        conn.execute(
            insert(resources).values(
                kind="queue-fleet-association",
                resource_id=f"{queue_id}:fleet-1",
                farm_id="farm-1",
                parent_id=queue_id,
                ref_id="fleet-1",
                status=status,
                created_at=T0,
                doc={},
            )
        )


def add_ready_job(store: Store, queue_id: str, ready: int = 1, lifecycle: str = "CREATE_COMPLETE") -> None:
    counts = {count_column(s): 0 for s in TASK_RUN_STATUSES}
    counts[count_column("READY")] = ready
    with store.write() as conn:
        conn.execute(
            insert(jobs).values(
                job_id=f"job-{queue_id}-{lifecycle}",
                farm_id="farm-1",
                queue_id=queue_id,
                name="j",
                priority=50,
                lifecycle_status=lifecycle,
                lifecycle_status_message="ok",
                task_run_status="READY",
                task_failure_retry_count=0,
                template="{}",
                template_type="JSON",
                created_at=T0,
                created_by="me",
                **counts,
            )
        )


def test_an_answer_is_given_again_only_while_the_generation_stands(store: Store) -> None:
    # Given an attempt at generation 7 that found no work
    polls = IdlePolls(store, worker_timeout=60)
    polls.remember(KEY, 7, IDLE, 20.0)
    # Then at generation 7 the same answer and wait are given, as a fresh copy
    again = polls.answer(KEY, 7)
    assert again == (IDLE, 20.0) and again[0] is not IDLE
    # But not to another worker
    assert polls.answer(("farm-1", "fleet-1", "worker-2"), 7) is None
    # Nor past a call that changed more than work (and then not any more)
    polls.changed(7)
    assert polls.answer(KEY, 8) is None
    assert polls.answer(KEY, 7) is None


def test_an_answer_outlives_moves_while_the_fleet_has_no_ready_job(store: Store) -> None:
    # Given a fleet serving queue-1, with READY work only in queues it does not serve (not associated,
    # or associated but stopped) and in a job still being created
    associate(store, "queue-1")
    associate(store, "queue-2", status="STOP_SCHEDULING_AND_COMPLETE_TASKS")
    add_ready_job(store, "queue-2")
    add_ready_job(store, "queue-3")
    add_ready_job(store, "queue-1", lifecycle="CREATE_IN_PROGRESS")
    polls = IdlePolls(store, worker_timeout=60)
    polls.remember(KEY, 7, IDLE, 20.0)
    # When the generation moves (new work somewhere), the answer still holds
    assert polls.answer(KEY, 8) == (IDLE, 20.0)
    assert polls.answer(KEY, 9) == (IDLE, 20.0)
    # When a job of queue-1 has READY tasks, the next move gives the worker a full attempt
    add_ready_job(store, "queue-1")
    assert polls.answer(KEY, 9) == (IDLE, 20.0)  # no move since the read that found none
    assert polls.answer(KEY, 10) is None
    assert polls.answer(KEY, 10) is None


def test_a_barrier_stops_answers_given_before_it_even_when_read_during_their_check(store: Store) -> None:
    # Given answers at generations 7 and 9, and a change (not work) that committed at generation 8
    polls = IdlePolls(store, worker_timeout=60)
    polls.remember(KEY, 7, IDLE, 20.0)
    polls.remember(("farm-1", "fleet-1", "worker-2"), 9, IDLE, 20.0)
    polls.changed(8)
    # Then the answer given before the change is not carried past it; the one given after is
    assert polls.answer(KEY, 9) is None
    assert polls.answer(("farm-1", "fleet-1", "worker-2"), 10) == (IDLE, 20.0)


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
