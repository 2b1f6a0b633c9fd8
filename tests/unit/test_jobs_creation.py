"""Finishing large job creations cut short by a stop: the rest is written, once, or the job fails clearly."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from openjd.model import StepParameterSpaceIterator
from sqlalchemy import Connection, select, update

from farmhand.server._ids import new_id
from farmhand.server.jobs import (
    _writer,
    finish_creation,
    finish_interrupted_creations,
    insert_job_rows,
    plan_job,
    write_tasks_later,
)
from farmhand.server.store import Store, jobs, sqlite_url, steps, tasks

pytestmark = pytest.mark.timeout(120)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CHUNK = 150

TEMPLATE = json.dumps(
    {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "J",
        "parameterDefinitions": [
            {"name": "Frames", "type": "STRING"},
            {"name": "Count", "type": "INT", "default": 40},
        ],
        "steps": [
            {
                "name": "A",
                "parameterSpace": {
                    "taskParameterDefinitions": [{"name": "F", "type": "INT", "range": "{{Param.Frames}}"}]
                },
                "script": {"actions": {"onRun": {"command": "echo"}}},
            },
            {
                "name": "B",
                "dependencies": [{"dependsOn": "A"}],
                "parameterSpace": {
                    "taskParameterDefinitions": [
                        {"name": "N", "type": "INT", "range": "1-{{Param.Count}}"},
                        {"name": "L", "type": "STRING", "range": ["a", "b", "c", "d", "e"]},
                    ]
                },
                "script": {"actions": {"onRun": {"command": "echo"}}},
            },
        ],
    }
)
PARAMETERS = {"Frames": {"string": "1-500"}}
# With chunks of 150: A is written in 4 chunks (500 tasks), B in 2 (200 tasks), then completed.
WRITES_FOR_TASKS = 6


class Crash(BaseException):
    """The server process dying: no handler of the writer runs."""


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = str(request.getfixturevalue("pg_cluster").new_database())
    s = Store(url)
    yield s
    s.dispose()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_writer, "CHUNK_SIZE", CHUNK)


def submit(store: Store, template: str = TEMPLATE) -> tuple[str, Any]:
    """What CreateJob commits before its answer: the job and step rows, no tasks."""
    job_id = new_id("job")
    plan, _ = plan_job(
        job_id=job_id,
        template_text=template,
        template_type="JSON",
        parameters=PARAMETERS,
        queue_environments=[],
        new_step_id=lambda: new_id("step"),
    )
    fields = {"priority": 1, "template": template, "template_type": "JSON", "parameters": PARAMETERS}
    with store.write() as conn:
        insert_job_rows(
            conn, plan, job_id=job_id, farm_id="farm-1", queue_id="queue-1", now=NOW, by="me", fields=fields
        )
    return job_id, plan


def write_until_crash(store: Store, job_id: str, plan: Any, writes: int) -> None:
    """The background writer, killed after `writes` committed transactions."""
    done = 0

    def dying_write() -> AbstractContextManager[Connection]:
        nonlocal done
        if done == writes:
            raise Crash()
        done += 1
        return store.write()

    with pytest.raises(Crash):
        write_tasks_later(dying_write, plan, job_id=job_id, farm_id="farm-1", queue_id="queue-1", now=NOW)


def stored(store: Store, job_id: str) -> tuple[Any, dict[str, Any], dict[str, list[Any]]]:
    with store.read() as conn:
        job = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).one()
        step_rows = {r.name: r for r in conn.execute(select(steps).where(steps.c.job_id == job_id))}
        rows = {
            name: conn.execute(
                select(tasks).where(tasks.c.step_id == row.step_id).order_by(tasks.c.task_index)
            ).all()
            for name, row in step_rows.items()
        }
    return job, step_rows, rows


def expected_parameters(plan: Any, index: int) -> list[dict[str, Any]]:
    member = {"INT": "int", "STRING": "string"}
    return [
        {name: {member[v.type.value]: str(v.value)} for name, v in parameter_set.items()}
        for parameter_set in StepParameterSpaceIterator(space=plan.steps[index].space)
    ]


@pytest.mark.parametrize(
    "writes", [0, 2, 4, 5, WRITES_FOR_TASKS], ids=["nothing", "mid-A", "A-done", "mid-B", "all-tasks"]
)
def test_an_interrupted_creation_is_finished_with_every_task_once(store: Store, writes: int) -> None:
    # Given a large job whose writer died after `writes` committed chunks
    job_id, plan = submit(store)
    write_until_crash(store, job_id, plan, writes)
    assert stored(store, job_id)[0].lifecycle_status == "CREATE_IN_PROGRESS"
    # When the next server finishes it, planning it again from what is stored
    outcome = finish_creation(store, job_id)
    # Then it is complete, and every task is there once, with openjd's parameters in openjd's order
    job, step_rows, rows = stored(store, job_id)
    assert outcome == job.lifecycle_status == "CREATE_COMPLETE"
    for index, name in enumerate(("A", "B")):
        prefix = f"task-{step_rows[name].step_id[5:]}-"
        expected = expected_parameters(plan, index)
        assert [r.task_id for r in rows[name]] == [f"{prefix}{i}" for i in range(len(expected))]
        assert [r.parameters for r in rows[name]] == expected
        assert {r.created_at for r in rows[name]} == {NOW}
    assert (job.count_ready, job.count_pending, job.task_run_status) == (500, 200, "READY")
    assert (step_rows["A"].count_ready, step_rows["B"].count_pending) == (500, 200)


def test_a_finished_creation_is_left_alone(store: Store) -> None:
    job_id, plan = submit(store)
    assert finish_creation(store, job_id, plan) == "CREATE_COMPLETE"
    assert finish_creation(store, job_id) == "CREATE_COMPLETE"
    job, _, rows = stored(store, job_id)
    assert (len(rows["A"]), len(rows["B"]), job.count_ready) == (500, 200, 500)


def test_a_job_another_writer_holds_is_not_touched(store: Store) -> None:
    # Given a job whose creation another writer holds
    job_id, _ = submit(store)
    with store.exclusive(f"job-creation:{job_id}") as held:
        assert held
        # When a resume runs meanwhile, Then it leaves the job to that writer
        assert finish_creation(store, job_id) is None
    job, _, rows = stored(store, job_id)
    assert job.lifecycle_status == "CREATE_IN_PROGRESS" and not rows["A"]


def test_a_job_that_cannot_be_planned_again_fails_for_every_waiter(store: Store) -> None:
    # Given an interrupted creation whose stored template no longer instantiates
    job_id, plan = submit(store)
    write_until_crash(store, job_id, plan, 2)
    with store.write() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(template='{"name": "J"}'))
    # When the next server tries to finish it
    outcome = finish_creation(store, job_id)
    # Then it is CREATE_FAILED with the reason, and the job and its steps are FAILED (terminal)
    job, step_rows, rows = stored(store, job_id)
    assert outcome == job.lifecycle_status == "CREATE_FAILED"
    assert "no longer instantiates" in job.lifecycle_status_message
    assert job.task_run_status == "FAILED" and job.ended_at is not None
    assert {r.task_run_status for r in step_rows.values()} == {"FAILED"}
    # And the tasks written before the stop stay as they were (never scheduled)
    assert len(rows["A"]) == 2 * CHUNK


def test_stored_parameters_that_resolve_differently_fail_the_job(store: Store) -> None:
    # Given an interrupted creation whose stored parameters no longer match what was resolved
    job_id, plan = submit(store)
    write_until_crash(store, job_id, plan, 1)
    with store.write() as conn:
        changed = {"Frames": {"string": "1-10"}}
        conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(parameters=changed))
    # When it is finished, Then it fails naming the parameter rather than writing other tasks
    assert finish_creation(store, job_id) == "CREATE_FAILED"
    job, _, rows = stored(store, job_id)
    assert "parameter Frames now resolves" in job.lifecycle_status_message
    assert len(rows["A"]) == CHUNK


def test_server_start_finishes_every_interrupted_creation(store: Store) -> None:
    # Given two interrupted creations and a complete job
    first, plan_1 = submit(store)
    write_until_crash(store, first, plan_1, 3)
    second, plan_2 = submit(store)
    write_until_crash(store, second, plan_2, 0)
    done, plan_3 = submit(store)
    finish_creation(store, done, plan_3)
    # When a server starts on this store
    outcomes = finish_interrupted_creations(store)
    # Then both interrupted jobs are complete; the finished one was not looked at
    assert outcomes == {first: "CREATE_COMPLETE", second: "CREATE_COMPLETE"}


def test_the_exclusive_lock_excludes_other_servers_on_postgres(pg_url: str) -> None:
    # Given two servers' stores on one PostgreSQL database
    one, two = Store(pg_url), Store(pg_url)
    try:
        name = "job-creation:job-x"
        attempts: list[bool] = []
        with one.exclusive(name) as first, two.exclusive(name) as second:
            attempts += [first, second]
        # When the first lets go, Then the second can take it
        with two.exclusive(name) as again:
            attempts.append(again)
        assert attempts == [True, False, True]
    finally:
        one.dispose()
        two.dispose()
