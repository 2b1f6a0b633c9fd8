"""A schedule call reads a session's open actions and a worker's failed ones through partial indexes
of those only, not every action the session ever ran. A real SQLite store; the plans are SQLite's own,
of the very statements the worker plane runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert

from farmhand.server.store import Store, session_actions, sessions
from farmhand.server.worker_plane._assign import _FAILURES_BY_JOB, failures_by_job
from farmhand.server.worker_plane._sessions import _OPEN_ACTIONS, open_actions

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SESSION = "session-" + "a" * 32
JOB = "job-" + "b" * 32


def action(index: int, status: str) -> dict[str, Any]:
    return {
        "session_action_id": f"sessionaction-{'a' * 32}-{index}",
        "session_id": SESSION,
        "job_id": JOB,
        "action_index": index,
        "status": status,
        "definition": {"taskRun": {"taskId": f"task-{index}", "stepId": "step-1"}},
        "task_id": f"task-{index}",
        "created_at": NOW,
    }


def plan_of(conn: Connection, statement: Any, params: dict[str, Any]) -> str:
    state = statement.compile(conn).construct_expanded_state(params)
    ordered = tuple(state.parameters[name] for name in state.positiontup or ())
    return str(conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {state.statement}", ordered).fetchall())


def test_open_and_failed_actions_are_read_through_their_partial_indexes(store: Store) -> None:
    # Given a session of 500 finished actions, one failed, and two still open
    with store.write() as conn:
        conn.execute(
            insert(sessions).values(
                session_id=SESSION,
                farm_id="farm-1",
                queue_id="queue-1",
                job_id=JOB,
                fleet_id="fleet-1",
                worker_id="worker-1",
                lifecycle_status="STARTED",
                started_at=NOW,
            )
        )
        rows = [action(i, "SUCCEEDED") for i in range(500)]
        rows += [action(500, "FAILED"), action(501, "RUNNING"), action(502, "ASSIGNED")]
        conn.execute(insert(session_actions), rows)
    with store.read() as conn:
        # When a schedule call reads them
        opened = open_actions(conn, SESSION)
        failed = failures_by_job(conn, "worker-1", [JOB])
        open_plan = plan_of(conn, _OPEN_ACTIONS, {"session_id": SESSION})
        failed_plan = plan_of(conn, _FAILURES_BY_JOB, {"worker_id": "worker-1", "job_ids": [JOB]})
    # Then it finds exactly those, in pipeline order, and SQLite reads them through the partial indexes
    assert [a.action_index for a in opened] == [501, 502]
    assert failed == {JOB: 1}
    assert "ix_session_actions_open" in open_plan
    assert "ix_session_actions_failed" in failed_plan
