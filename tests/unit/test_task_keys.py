"""Tasks are found through their (step, index) key, and the scheduler's scan start stays a lower bound.

Runs on a real SQLite store: the helpers under test build SQL, so only the database can say whether
they find the right rows.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, select
from test_jobs_transitions import JOB, make_job, step_id

from farmhand.server._ids import hex_of, new_id, task_id, task_key
from farmhand.server.jobs import request_tasks_status, set_task_status
from farmhand.server.store import steps, task_is, tasks, tasks_in, tasks_of_job
from farmhand.server.worker_plane._tasks import claim_tasks

pytestmark = pytest.mark.timeout(60)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task-" + "a" * 32 + "-0", ("step-" + "a" * 32, 0)),
        ("task-" + "a" * 32 + "-1234567", ("step-" + "a" * 32, 1234567)),
        ("task-" + "a" * 32 + "-007", None),  # AWS never writes leading zeros
        ("task-" + "a" * 32 + "-", None),
        ("task-" + "a" * 32, None),
        ("step-" + "a" * 32 + "-1", None),
        ("task--1", None),
        ("task-" + "a" * 32 + "-12345678901", None),  # longer than any index
        ("task-" + "a" * 32 + "-١٢", None),  # digits, but not ASCII ones
    ],
)
def test_task_key_parses_only_task_ids(text: str, expected: tuple[str, int] | None) -> None:
    assert task_key(text) == expected


def test_task_key_inverts_task_id() -> None:
    step = new_id("step")
    assert task_key(task_id(step, 41)) == (step, 41)


def test_new_ids_sort_in_creation_order() -> None:
    # Given ids minted one after another
    minted = [new_id("step") for _ in range(200)]
    # Then their time parts sort as they were made, so new task keys append at the end of the index
    times = [hex_of(m)[:16] for m in minted]
    assert sorted(times) == times
    assert len(set(minted)) == len(minted)


def test_predicates_find_exactly_the_named_tasks(conn: Connection) -> None:
    # Given a job of two steps
    ids = make_job(conn, {"a": (5, []), "b": (3, [])})
    found = lambda where: sorted(conn.execute(select(tasks.c.task_id).where(where)).scalars())  # noqa: E731
    # Then each predicate selects its tasks and nothing else
    assert found(task_is(ids["a"][3])) == [ids["a"][3]]
    assert found(task_is("task-" + "f" * 32 + "-3")) == []
    assert found(task_is("not-a-task")) == []
    assert found(tasks_in([ids["a"][0], ids["b"][2], "junk"])) == sorted([ids["a"][0], ids["b"][2]])
    assert found(tasks_in([])) == []
    assert found(tasks_of_job(JOB)) == sorted(ids["a"] + ids["b"])
    assert found(tasks_of_job("job-" + "0" * 32)) == []


def ready_from(conn: Connection, name: str) -> int:
    return int(conn.execute(select(steps.c.ready_from).where(steps.c.step_id == step_id(name))).scalar_one())


def claim(conn: Connection, n: int) -> list[str]:
    return [t for t, _ in claim_tasks(conn, JOB, step_id("a"), [f"action-{i}" for i in range(n)], now=NOW)]


def test_claims_take_the_lowest_ready_tasks_and_move_the_scan_start(conn: Connection) -> None:
    # Given a step of ten READY tasks
    ids = make_job(conn, {"a": (10, [])})["a"]
    # When a worker claims three, then three more
    assert claim(conn, 3) == ids[0:3]
    assert ready_from(conn, "a") == 3
    assert claim(conn, 3) == ids[3:6]
    assert ready_from(conn, "a") == 6


def test_a_task_made_ready_below_the_scan_start_is_claimed_next(conn: Connection) -> None:
    # Given a step whose first six tasks were claimed
    ids = make_job(conn, {"a": (10, [])})["a"]
    claim(conn, 6)
    # When task 1 goes back to READY (a retry) and task 4 fails and the user retries it
    set_task_status(conn, JOB, [ids[1]], "READY", now=NOW)
    set_task_status(conn, JOB, [ids[4]], "FAILED", now=NOW)
    request_tasks_status(conn, JOB, "READY", now=NOW, by="me", task_ids=[ids[4]])
    # Then the scan start drops to the lowest of them and the next claim takes them first, in order
    assert ready_from(conn, "a") == 1
    assert claim(conn, 3) == [ids[1], ids[4], ids[6]]
    assert ready_from(conn, "a") == 7


def test_claiming_an_exhausted_step_finds_nothing(conn: Connection) -> None:
    ids = make_job(conn, {"a": (2, [])})["a"]
    assert claim(conn, 5) == ids
    assert claim(conn, 5) == []
