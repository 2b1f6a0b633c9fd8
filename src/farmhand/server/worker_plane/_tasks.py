"""How a session action's outcome lands on its task (spec §2.12 task-state mapping).

SUCCEEDED → SUCCEEDED; FAILED → the retry policy (`record_task_failure`); INTERRUPTED,
NEVER_ATTEMPTED, RECLAIMED and a CANCELED the user did not ask for → READY again without counting a
failure. A task the user interrupted (INTERRUPTING with a target) lands on that target whatever the
outcome, except SUCCEEDED, which stands. An outcome is applied only while the task still belongs to
that action (`latest_session_action_id`), so a late or repeated report never moves work that was
reclaimed and handed to another worker.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, and_, select, update

from ..jobs import RUNNING_STATES, record_task_failure, set_task_status
from ..store import tasks

HELD_STATES = (*RUNNING_STATES, "INTERRUPTING")


def settle_task(
    conn: Connection,
    job_id: str,
    task_id: str,
    action_id: str,
    outcome: str,
    *,
    now: dt.datetime,
    count_failure: bool = False,
) -> str | None:
    """Apply an action outcome to its task; returns the task's new status (None when not applied)."""
    task = conn.execute(
        select(tasks.c.run_status, tasks.c.target_run_status, tasks.c.latest_session_action_id).where(
            and_(tasks.c.job_id == job_id, tasks.c.task_id == task_id)
        )
    ).first()
    if task is None or task.latest_session_action_id != action_id or task.run_status not in HELD_STATES:
        return None
    if outcome == "SUCCEEDED":
        set_task_status(conn, job_id, [task_id], "SUCCEEDED", now=now)
        return "SUCCEEDED"
    if outcome == "FAILED" or count_failure:
        return record_task_failure(conn, job_id, task_id, now=now)
    if task.run_status == "INTERRUPTING" and task.target_run_status:
        target = str(task.target_run_status)
        set_task_status(conn, job_id, [task_id], target, now=now)
        return target
    set_task_status(conn, job_id, [task_id], "READY", now=now)
    return "READY"


def mark_task_running(
    conn: Connection, job_id: str, task_id: str, action_id: str, *, now: dt.datetime
) -> None:
    """The worker started the task's run."""
    task = conn.execute(
        select(tasks.c.run_status, tasks.c.latest_session_action_id).where(
            and_(tasks.c.job_id == job_id, tasks.c.task_id == task_id)
        )
    ).first()
    if task is None or task.latest_session_action_id != action_id:
        return
    if task.run_status in ("ASSIGNED", "SCHEDULED", "STARTING"):
        set_task_status(conn, job_id, [task_id], "RUNNING", now=now)


def claim_task(
    conn: Connection, job_id: str, step_id: str, action_id: str, *, now: dt.datetime
) -> tuple[str, dict[str, object]] | None:
    """Take the first READY task of a step for an action: (task id, parameters), or None if none is left."""
    for _ in range(5):
        row = conn.execute(
            select(tasks.c.task_id, tasks.c.parameters)
            .where(and_(tasks.c.step_id == step_id, tasks.c.run_status == "READY"))
            .order_by(tasks.c.task_index)
            .limit(1)
        ).first()
        if row is None:
            return None
        moved = set_task_status(conn, job_id, [row.task_id], "ASSIGNED", now=now, only_from=("READY",))
        if moved:
            conn.execute(
                update(tasks).where(tasks.c.task_id == row.task_id).values(latest_session_action_id=action_id)
            )
            return str(row.task_id), dict(row.parameters or {})
    return None
