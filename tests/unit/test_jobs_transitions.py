"""Task transitions, counters and roll-ups, exercised on a real SQLite store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from farmhand.server.jobs import record_task_failure, request_tasks_status, rollup, set_task_status
from farmhand.server.store import (
    TASK_RUN_STATUSES,
    count_column,
    jobs,
    step_dependencies,
    steps,
    task_is,
    tasks,
)

pytestmark = pytest.mark.timeout(60)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
JOB = "job-" + "a" * 32


def step_id(name: str) -> str:
    return "step-" + (name * 32)[:32]


def zero_counts() -> dict[str, int]:
    return {count_column(s): 0 for s in TASK_RUN_STATUSES}


def make_job(
    conn: Connection,
    layout: dict[str, tuple[int, list[str]]],
    *,
    max_retries: int | None = 2,
    max_failed: int | None = None,
) -> dict[str, list[str]]:
    """A job whose steps (name → (task count, upstream names)) start READY, or PENDING with upstreams."""
    conn.execute(
        insert(jobs).values(
            job_id=JOB,
            farm_id="farm-1",
            queue_id="queue-1",
            name="j",
            priority=50,
            lifecycle_status="CREATE_COMPLETE",
            lifecycle_status_message="ok",
            task_run_status="READY",
            max_retries_per_task=max_retries,
            max_failed_tasks_count=max_failed,
            task_failure_retry_count=0,
            template="{}",
            template_type="JSON",
            created_at=NOW,
            created_by="me",
            **zero_counts(),
        )
    )
    ids: dict[str, list[str]] = {}
    job_counts = zero_counts()
    for index, (name, (count, ups)) in enumerate(layout.items()):
        sid = step_id(name)
        status = "PENDING" if ups else "READY"
        counts = zero_counts()
        counts[count_column(status)] = count
        job_counts[count_column(status)] += count
        conn.execute(
            insert(steps).values(
                step_id=sid,
                job_id=JOB,
                queue_id="queue-1",
                farm_id="farm-1",
                step_index=index,
                name=name,
                lifecycle_status="CREATE_COMPLETE",
                task_run_status=status,
                task_failure_retry_count=0,
                task_count=count,
                template={},
                created_at=NOW,
                created_by="me",
                **counts,
            )
        )
        for up in ups:
            conn.execute(
                insert(step_dependencies).values(job_id=JOB, step_id=sid, depends_on_step_id=step_id(up))
            )
        ids[name] = [f"task-{sid[5:]}-{i}" for i in range(count)]
        conn.execute(
            insert(tasks),
            [
                dict(
                    task_id=t,
                    step_id=sid,
                    job_id=JOB,
                    queue_id="queue-1",
                    farm_id="farm-1",
                    task_index=i,
                    run_status=status,
                    failure_retry_count=0,
                    created_at=NOW,
                )
                for i, t in enumerate(ids[name])
            ],
        )
    conn.execute(jobs.update().where(jobs.c.job_id == JOB).values(**job_counts))
    return ids


def job_row(conn: Connection) -> Any:
    return conn.execute(select(jobs).where(jobs.c.job_id == JOB)).one()


def step_row(conn: Connection, name: str) -> Any:
    return conn.execute(select(steps).where(steps.c.step_id == step_id(name))).one()


def task_row(conn: Connection, task: str) -> Any:
    return conn.execute(select(tasks).where(task_is(task))).one()


def counts_of(row: Any) -> dict[str, int]:
    return {s: row._mapping[count_column(s)] for s in TASK_RUN_STATUSES if row._mapping[count_column(s)]}


def assert_counters_match_tasks(conn: Connection) -> None:
    """The invariant every transition keeps: counters equal a scan of the tasks."""
    scanned: dict[str, int] = {}
    for row in conn.execute(select(tasks.c.run_status)):
        scanned[row.run_status] = scanned.get(row.run_status, 0) + 1
    assert counts_of(job_row(conn)) == scanned


@pytest.mark.parametrize(
    ("counts", "pending_can_run", "expected"),
    [
        ({"RUNNING": 1, "READY": 5, "FAILED": 1}, True, "RUNNING"),
        ({"INTERRUPTING": 1, "STARTING": 1}, True, "INTERRUPTING"),
        ({"STARTING": 1, "SCHEDULED": 1}, True, "STARTING"),
        ({"SCHEDULED": 1, "ASSIGNED": 1}, True, "SCHEDULED"),
        ({"ASSIGNED": 1, "READY": 1}, True, "ASSIGNED"),
        ({"READY": 1, "PENDING": 3, "SUCCEEDED": 2}, True, "READY"),
        ({"PENDING": 3, "SUCCEEDED": 2}, True, "PENDING"),
        ({"PENDING": 3, "FAILED": 1}, False, "FAILED"),
        ({"FAILED": 1, "CANCELED": 1, "SUSPENDED": 1}, True, "FAILED"),
        ({"CANCELED": 1, "SUSPENDED": 1, "SUCCEEDED": 1}, True, "CANCELED"),
        ({"SUSPENDED": 1, "NOT_COMPATIBLE": 1}, True, "SUSPENDED"),
        ({"NOT_COMPATIBLE": 1, "SUCCEEDED": 4}, True, "NOT_COMPATIBLE"),
        ({"SUCCEEDED": 4}, True, "SUCCEEDED"),
    ],
)
def test_rollup_follows_the_documented_order(
    counts: dict[str, int], pending_can_run: bool, expected: str
) -> None:
    # Given task counts, When they roll up, Then the documented status wins
    assert rollup(counts, pending_can_run=pending_can_run) == expected


def test_running_then_succeeding_sets_times_counters_and_resolves_dependencies(conn: Connection) -> None:
    # Given a render step with two tasks and a movie step that depends on it
    ids = make_job(conn, {"render": (2, []), "movie": (1, ["render"])})
    # When the first render task runs
    assert set_task_status(conn, JOB, ids["render"][:1], "RUNNING", now=NOW) == 1
    # Then the step and job are RUNNING and started
    assert step_row(conn, "render").task_run_status == "RUNNING"
    assert job_row(conn).task_run_status == "RUNNING"
    assert job_row(conn).started_at == NOW
    assert task_row(conn, ids["render"][0]).started_at == NOW
    # When both render tasks succeed
    later = NOW + dt.timedelta(seconds=5)
    set_task_status(conn, JOB, ids["render"], "SUCCEEDED", now=later)
    # Then render is SUCCEEDED and ended, and the movie task became READY
    assert step_row(conn, "render").task_run_status == "SUCCEEDED"
    assert step_row(conn, "render").ended_at == later
    assert task_row(conn, ids["movie"][0]).run_status == "READY"
    assert job_row(conn).task_run_status == "READY"
    assert job_row(conn).ended_at is None
    # When the movie task succeeds, Then the job is SUCCEEDED with an end time
    set_task_status(conn, JOB, ids["movie"], "SUCCEEDED", now=later)
    assert job_row(conn).task_run_status == "SUCCEEDED"
    assert job_row(conn).ended_at == later
    assert counts_of(job_row(conn)) == {"SUCCEEDED": 3}
    assert_counters_match_tasks(conn)


def test_a_task_finishing_within_one_poll_still_has_a_start_time(conn: Connection) -> None:
    # Given a task a worker holds (ASSIGNED) and one nobody ran (READY)
    ids = make_job(conn, {"render": (2, [])})
    set_task_status(conn, JOB, ids["render"][:1], "ASSIGNED", now=NOW)
    # When the held one is reported SUCCEEDED without ever being reported RUNNING
    later = NOW + dt.timedelta(seconds=1)
    set_task_status(conn, JOB, ids["render"][:1], "SUCCEEDED", now=later)
    # Then it, its step and its job have a start time
    assert task_row(conn, ids["render"][0]).started_at == later
    assert step_row(conn, "render").started_at == later
    assert job_row(conn).started_at == later
    # When a user marks the never-run task SUCCEEDED, Then it gets no start time
    set_task_status(conn, JOB, ids["render"][1:], "SUCCEEDED", now=later)
    assert task_row(conn, ids["render"][1]).started_at is None
    assert_counters_match_tasks(conn)


def test_only_from_moves_only_tasks_in_those_states(conn: Connection) -> None:
    # Given a step with three READY tasks, one of them RUNNING
    ids = make_job(conn, {"render": (3, [])})
    set_task_status(conn, JOB, ids["render"][:1], "RUNNING", now=NOW)
    # When all three are moved to ASSIGNED only from READY
    moved = set_task_status(conn, JOB, ids["render"], "ASSIGNED", now=NOW, only_from={"READY"})
    # Then only the two READY ones moved
    assert moved == 2
    assert counts_of(step_row(conn, "render")) == {"RUNNING": 1, "ASSIGNED": 2}
    assert_counters_match_tasks(conn)


def test_a_claim_of_tasks_known_ready_keeps_the_counters_of_a_counted_move(conn: Connection) -> None:
    # Given a job of two steps with READY tasks
    ids = make_job(conn, {"render": (6, []), "comp": (4, [])})
    # When some are moved to ASSIGNED as a claim does (known READY, not counted again), across steps
    claimed = [ids["render"][2], ids["render"][4], ids["comp"][0]]
    moved = set_task_status(
        conn, JOB, claimed, "ASSIGNED", now=NOW, only_from=("READY",), known_status="READY"
    )
    # Then they moved, and every counter and roll-up is what a scan of the tasks gives
    assert moved == 3
    assert counts_of(step_row(conn, "render")) == {"READY": 4, "ASSIGNED": 2}
    assert counts_of(step_row(conn, "comp")) == {"READY": 3, "ASSIGNED": 1}
    assert job_row(conn).task_run_status == "ASSIGNED"
    assert_counters_match_tasks(conn)
    # and tasks already in the wanted status are not counted twice
    assert set_task_status(conn, JOB, claimed, "ASSIGNED", now=NOW, known_status="ASSIGNED") == 0
    assert_counters_match_tasks(conn)


def test_failed_upstream_makes_the_job_terminal(conn: Connection) -> None:
    # Given a step whose consumer waits on it
    ids = make_job(conn, {"render": (1, []), "movie": (2, ["render"])}, max_retries=0)
    # When the render task's run fails with no retries left
    set_task_status(conn, JOB, ids["render"], "RUNNING", now=NOW)
    assert record_task_failure(conn, JOB, ids["render"][0], now=NOW) == "FAILED"
    # Then the consumer's tasks stay PENDING, but the step and job are terminal FAILED
    assert counts_of(step_row(conn, "movie")) == {"PENDING": 2}
    assert step_row(conn, "movie").task_run_status == "FAILED"
    assert job_row(conn).task_run_status == "FAILED"
    assert job_row(conn).ended_at == NOW


def test_suspended_upstream_suspends_the_job_and_resuming_reopens_it(conn: Connection) -> None:
    # Given a job with a dependency
    make_job(conn, {"render": (2, []), "movie": (1, ["render"])})
    # When the job is suspended
    request_tasks_status(conn, JOB, "SUSPENDED", now=NOW, by="me")
    # Then it is terminal SUSPENDED for waiting purposes
    assert job_row(conn).task_run_status == "SUSPENDED"
    assert step_row(conn, "movie").task_run_status == "SUSPENDED"
    # When it is resumed with READY
    request_tasks_status(conn, JOB, "READY", now=NOW, by="me")
    # Then the render tasks are READY again and the movie tasks wait PENDING
    assert counts_of(step_row(conn, "render")) == {"READY": 2}
    assert counts_of(step_row(conn, "movie")) == {"PENDING": 1}
    assert job_row(conn).task_run_status == "READY"
    assert job_row(conn).ended_at is None
    assert_counters_match_tasks(conn)


@pytest.mark.parametrize(
    ("retries", "failures", "expected_status", "expected_count"),
    [
        (2, 1, "READY", 1),
        (2, 2, "READY", 2),
        (2, 3, "FAILED", 2),
        (0, 1, "FAILED", 0),
        (None, 5, "READY", 5),
        (None, 6, "FAILED", 5),
    ],
)
def test_retry_policy(
    conn: Connection, retries: int | None, failures: int, expected_status: str, expected_count: int
) -> None:
    # Given a job allowing `retries` retries per task
    ids = make_job(conn, {"render": (2, [])}, max_retries=retries)
    task = ids["render"][0]
    # When the task's run fails `failures` times
    status = ""
    for _ in range(failures):
        set_task_status(conn, JOB, [task], "RUNNING", now=NOW)
        status = record_task_failure(conn, JOB, task, now=NOW)
    # Then it is retried until the retries run out, and each retry granted is counted
    assert status == expected_status
    assert task_row(conn, task).run_status == expected_status
    assert task_row(conn, task).failure_retry_count == expected_count
    assert step_row(conn, "render").task_failure_retry_count == expected_count
    assert job_row(conn).task_failure_retry_count == expected_count
    assert_counters_match_tasks(conn)


def test_max_failed_tasks_cancels_the_rest(conn: Connection) -> None:
    # Given a job allowing one failed task, with one task running on a worker
    ids = make_job(conn, {"render": (4, [])}, max_retries=0, max_failed=1)
    render = ids["render"]
    set_task_status(conn, JOB, render[:2], "RUNNING", now=NOW)
    # When another running task fails
    record_task_failure(conn, JOB, render[0], now=NOW)
    # Then the idle tasks are CANCELED and the running one is being interrupted towards CANCELED
    assert [task_row(conn, t).run_status for t in render] == [
        "FAILED",
        "INTERRUPTING",
        "CANCELED",
        "CANCELED",
    ]
    assert task_row(conn, render[1]).target_run_status == "CANCELED"
    assert job_row(conn).task_run_status == "INTERRUPTING"
    # When the worker reports the interrupted task, Then the job ends FAILED
    set_task_status(conn, JOB, render[1:2], task_row(conn, render[1]).target_run_status, now=NOW)
    assert job_row(conn).task_run_status == "FAILED"
    assert task_row(conn, render[1]).target_run_status is None
    assert_counters_match_tasks(conn)


# Each row: the task's state before, the user's target, the task's state after (and its target).
TRANSITIONS = [
    ("READY", "CANCELED", "CANCELED", None),
    ("RUNNING", "CANCELED", "INTERRUPTING", "CANCELED"),
    ("ASSIGNED", "SUSPENDED", "INTERRUPTING", "SUSPENDED"),
    ("SUCCEEDED", "CANCELED", "SUCCEEDED", None),
    ("FAILED", "CANCELED", "FAILED", None),
    ("READY", "FAILED", "FAILED", None),
    ("SUCCEEDED", "FAILED", "SUCCEEDED", None),
    ("CANCELED", "FAILED", "FAILED", None),
    ("READY", "SUCCEEDED", "SUCCEEDED", None),
    ("FAILED", "SUCCEEDED", "SUCCEEDED", None),
    ("RUNNING", "SUCCEEDED", "INTERRUPTING", "SUCCEEDED"),
    ("READY", "SUSPENDED", "SUSPENDED", None),
    ("CANCELED", "SUSPENDED", "CANCELED", None),
    ("SUSPENDED", "READY", "READY", None),
    ("FAILED", "READY", "READY", None),
    ("CANCELED", "READY", "READY", None),
    ("SUCCEEDED", "READY", "SUCCEEDED", None),
    ("RUNNING", "READY", "RUNNING", None),
    ("SUCCEEDED", "PENDING", "READY", None),
    ("FAILED", "PENDING", "READY", None),
    ("RUNNING", "PENDING", "INTERRUPTING", "READY"),
]


@pytest.mark.parametrize(("before", "target", "after", "after_target"), TRANSITIONS)
def test_user_targets_on_a_task(
    conn: Connection, before: str, target: str, after: str, after_target: str | None
) -> None:
    # Given a task in `before`
    ids = make_job(conn, {"render": (2, [])})
    task = ids["render"][0]
    set_task_status(conn, JOB, [task], before, now=NOW)
    # When the user asks for `target` on it
    request_tasks_status(conn, JOB, target, now=NOW, by="me", task_ids=[task])
    # Then it reaches `after` (interrupted ones carry the wanted status)
    row = task_row(conn, task)
    assert (row.run_status, row.target_run_status) == (after, after_target)
    assert_counters_match_tasks(conn)


def test_requeue_clears_results_and_retry_counts_and_respects_dependencies(conn: Connection) -> None:
    # Given a finished job whose render task failed once before succeeding
    ids = make_job(conn, {"render": (1, []), "movie": (1, ["render"])})
    set_task_status(conn, JOB, ids["render"], "RUNNING", now=NOW)
    record_task_failure(conn, JOB, ids["render"][0], now=NOW)
    set_task_status(conn, JOB, ids["render"], "SUCCEEDED", now=NOW)
    set_task_status(conn, JOB, ids["movie"], "SUCCEEDED", now=NOW)
    assert job_row(conn).task_run_status == "SUCCEEDED"
    # When the whole job is requeued
    request_tasks_status(conn, JOB, "PENDING", now=NOW, by="me")
    # Then render is READY with no result, movie waits PENDING, and the job is open again
    render = task_row(conn, ids["render"][0])
    assert (render.run_status, render.failure_retry_count, render.ended_at) == ("READY", 0, None)
    assert task_row(conn, ids["movie"][0]).run_status == "PENDING"
    assert job_row(conn).task_run_status == "READY"
    assert job_row(conn).ended_at is None
    assert job_row(conn).started_at == NOW
    assert_counters_match_tasks(conn)


def test_a_late_failure_report_does_not_touch_a_requeued_task(conn: Connection) -> None:
    # Given a task that was requeued (READY) after its run had been handed out
    ids = make_job(conn, {"render": (1, [])}, max_retries=0)
    task = ids["render"][0]
    # When a failure for the old run arrives
    status = record_task_failure(conn, JOB, task, now=NOW)
    # Then the task stays READY and no failure is counted
    assert status == "READY"
    assert (task_row(conn, task).run_status, task_row(conn, task).failure_retry_count) == ("READY", 0)
    assert job_row(conn).task_failure_retry_count == 0
