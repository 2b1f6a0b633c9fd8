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
from collections.abc import Sequence

from sqlalchemy import Connection, Integer, and_, bindparam, func, select, update

from ...statuses import HELD_TASK_RUN_STATUSES
from ..jobs import hold_job, record_task_failure, set_task_status
from ..store import steps, task_is, tasks


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
            and_(task_is(task_id), tasks.c.job_id == job_id)
        )
    ).first()
    if (
        task is None
        or task.latest_session_action_id != action_id
        or task.run_status not in HELD_TASK_RUN_STATUSES
    ):
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
            and_(task_is(task_id), tasks.c.job_id == job_id)
        )
    ).first()
    if task is None or task.latest_session_action_id != action_id:
        return
    if task.run_status in ("ASSIGNED", "SCHEDULED", "STARTING"):
        set_task_status(conn, job_id, [task_id], "RUNNING", now=now)


# The claim's statements, built once (every schedule call that hands out work runs them).
_READY_FROM = select(steps.c.ready_from).where(steps.c.step_id == bindparam("step_id")).scalar_subquery()
_READY_TASKS = (
    select(
        tasks.c.task_id,
        tasks.c.task_index,
        tasks.c.parameters,
        func.coalesce(tasks.c.updated_at, tasks.c.created_at).label("changed_at"),
    )
    .where(
        and_(
            tasks.c.step_id == bindparam("step_id"),
            tasks.c.task_index >= _READY_FROM,
            tasks.c.run_status == "READY",
        )
    )
    .order_by(tasks.c.task_index)
    .limit(bindparam("wanted", type_=Integer))
)
_MOVE_READY_FROM = (
    update(steps).where(steps.c.step_id == bindparam("moved_step")).values(ready_from=bindparam("moved_to"))
)
_CLAIMED_BY = (
    update(tasks)
    .where(
        and_(tasks.c.step_id == bindparam("claimed_step"), tasks.c.task_index == bindparam("claimed_index"))
    )
    .values(latest_session_action_id=bindparam("claiming_action"))
)


def claim_tasks(
    conn: Connection,
    job_id: str,
    step_id: str,
    action_ids: Sequence[str],
    *,
    now: dt.datetime,
    ready_since: dict[str, dt.datetime] | None = None,
) -> list[tuple[str, dict[str, object]]]:
    """Take up to `len(action_ids)` READY tasks of a step (lowest index first), one per action id.

    `ready_since`, when given, receives when each claimed task became READY (its last change).

    The job's row lock is taken first, so two servers never hand out the same task. The scan walks
    the step's key range from `ready_from` (no READY task lies below it), then moves it past the
    tasks taken: the first READY tasks at or above it are exactly the ones this call claims.
    """
    hold_job(conn, job_id)
    rows = list(conn.execute(_READY_TASKS, {"step_id": step_id, "wanted": len(action_ids)}))
    if not rows:
        return []
    if ready_since is not None:
        ready_since.update((str(r.task_id), r.changed_at) for r in rows)
    conn.execute(_MOVE_READY_FROM, {"moved_step": step_id, "moved_to": rows[-1].task_index + 1})
    set_task_status(
        conn,
        job_id,
        [r.task_id for r in rows],
        "ASSIGNED",
        now=now,
        only_from=("READY",),
        known_status="READY",  # read just above, under the job's lock
    )
    conn.execute(
        _CLAIMED_BY,
        [
            {"claimed_step": step_id, "claimed_index": r.task_index, "claiming_action": action}
            for r, action in zip(rows, action_ids, strict=False)
        ],
    )
    return [(str(r.task_id), dict(r.parameters or {})) for r in rows]


def settle_succeeded(
    conn: Connection, job_id: str, pairs: Sequence[tuple[str, str]], *, now: dt.datetime
) -> None:
    """Many SUCCEEDED task runs of one job at once: (task id, action id) pairs.

    A task is settled only while its latest action is one of the reported ones; an action claims one
    task, so that is the task's own action.
    """
    set_task_status(
        conn,
        job_id,
        [task_id for task_id, _ in pairs],
        "SUCCEEDED",
        now=now,
        only_from=HELD_TASK_RUN_STATUSES,
        held_by=[action_id for _, action_id in pairs],
    )
