"""Sessions and their actions in the store: append, drop, wind down, close, abandon.

A session belongs to one worker and one job. `entered_environments` lists the environments the
session has been told to enter and not yet to exit, in entry order; `step_id` is the step whose
environments are entered. A session winding down has `target_lifecycle_status = ENDED`: it gets no
new work, its entered environments are exited (reverse order) and, once every action is finished,
it is ENDED and no longer sent to the worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update
from sqlalchemy.engine import Row

from .._ids import session_action_id
from ..scheduler import ActionDefinition, closing_actions, kind_of
from ..store import ACTION_IS_OPEN, session_actions, sessions
from ._tasks import settle_task

#: Actions listed to the worker in `assignedSessions`.
DELIVERED_STATUSES = ("SCHEDULED", "ASSIGNED", "RUNNING")


# Statements run by every schedule call are built once: building one and deriving its cache key
# cost more than SQLite takes to run it.
_OPEN_SESSIONS = (
    select(sessions)
    .where(and_(sessions.c.worker_id == bindparam("worker_id"), sessions.c.lifecycle_status != "ENDED"))
    .order_by(sessions.c.started_at, sessions.c.session_id)
)
_OPEN_ACTIONS = (
    select(session_actions)
    .where(
        and_(
            session_actions.c.session_id == bindparam("session_id"),
            ACTION_IS_OPEN,
        )
    )
    .order_by(session_actions.c.action_index)
)
_ADVANCE_SESSION = (
    update(sessions)
    .where(sessions.c.session_id == bindparam("advanced_session"))
    .values(next_action_index=bindparam("next_index"), updated_at=bindparam("advanced_at"))
)


def open_sessions(conn: Connection, worker_id: str) -> list[Row[Any]]:
    return list(conn.execute(_OPEN_SESSIONS, {"worker_id": worker_id}))


def open_actions(conn: Connection, session_id: str) -> list[Row[Any]]:
    return list(conn.execute(_OPEN_ACTIONS, {"session_id": session_id}))


def append_actions(
    conn: Connection,
    session: Row[Any] | dict[str, Any],
    definitions: Sequence[ActionDefinition],
    *,
    now: dt.datetime,
    ready_since: Mapping[str, dt.datetime] | None = None,
) -> list[str]:
    """Add actions at the end of a session's pipeline (status ASSIGNED: they go out in this answer);
    the session's `updated_at` becomes `now` in the same statement.

    `ready_since` (task id → when it became READY) is kept on task runs for the dispatch latency.
    """
    data = session if isinstance(session, dict) else dict(session._mapping)
    start = int(data["next_action_index"] or 0)
    ids = []
    rows = []
    for offset, definition in enumerate(definitions):
        action_id = session_action_id(data["session_id"], start + offset)
        body = definition[kind_of(definition)]
        ids.append(action_id)
        rows.append(
            {
                "session_action_id": action_id,
                "session_id": data["session_id"],
                "job_id": data["job_id"],
                "action_index": start + offset,
                "status": "ASSIGNED",
                "definition": definition,
                "step_id": body.get("stepId"),
                "task_id": body.get("taskId"),
                "ready_at": (ready_since or {}).get(str(body.get("taskId"))),
                "created_at": now,
            }
        )
    if rows:
        conn.execute(insert(session_actions), rows)
        conn.execute(
            _ADVANCE_SESSION,
            {"advanced_session": data["session_id"], "next_index": start + len(rows), "advanced_at": now},
        )
    return ids


def finish_action(
    conn: Connection, action: Row[Any], status: str, *, now: dt.datetime, count_failure: bool = False
) -> str | None:
    """Close an action the worker will not (or can no longer) report, and settle its task."""
    conn.execute(
        update(session_actions)
        .where(session_actions.c.session_action_id == action.session_action_id)
        .values(status=status, ended_at=now if action.started_at is not None else None)
    )
    if action.task_id:
        return settle_task(
            conn,
            action.job_id,
            action.task_id,
            action.session_action_id,
            status,
            now=now,
            count_failure=count_failure,
        )
    return None


def drop_queued_after(
    conn: Connection, session_id: str, after_index: int, *, now: dt.datetime, count_first_task: bool
) -> None:
    """After a failed/canceled action, queued non-exit actions never run (spec §5.7)."""
    counted = not count_first_task
    for action in open_actions(conn, session_id):
        if action.action_index <= after_index or kind_of(action.definition) == "envExit":
            continue
        if action.status in ("RUNNING", "CANCELING"):
            continue
        is_task = kind_of(action.definition) == "taskRun"
        finish_action(conn, action, "NEVER_ATTEMPTED", now=now, count_failure=is_task and not counted)
        if is_task:
            counted = True


def wind_down(conn: Connection, session: Row[Any], *, now: dt.datetime) -> None:
    """Ask for the end of a session: exit its entered environments (reverse order), then ENDED."""
    fresh = conn.execute(select(sessions).where(sessions.c.session_id == session.session_id)).first()
    if fresh is None or fresh.lifecycle_status == "ENDED":
        return
    entered = list(fresh.entered_environments or [])
    if entered:
        never_entered = {
            a.definition["envEnter"]["environmentId"]
            for a in conn.execute(
                select(session_actions.c.definition).where(
                    and_(
                        session_actions.c.session_id == fresh.session_id,
                        session_actions.c.status.in_(("NEVER_ATTEMPTED", "RECLAIMED")),
                    )
                )
            )
            if kind_of(a.definition) == "envEnter"
        }
        exits = closing_actions([e for e in entered if e not in never_entered])
        append_actions(conn, fresh, exits, now=now)
    if entered or fresh.target_lifecycle_status != "ENDED":
        conn.execute(
            update(sessions)
            .where(sessions.c.session_id == fresh.session_id)
            .values(target_lifecycle_status="ENDED", entered_environments=[], updated_at=now)
        )


def close_if_done(conn: Connection, session_id: str, *, now: dt.datetime) -> bool:
    """End a winding-down session whose actions have all finished; True when it ended."""
    row = conn.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
    if row is None or row.lifecycle_status == "ENDED" or row.target_lifecycle_status != "ENDED":
        return row is not None and row.lifecycle_status == "ENDED"
    if open_actions(conn, session_id):
        return False
    conn.execute(
        update(sessions)
        .where(sessions.c.session_id == session_id)
        .values(lifecycle_status="ENDED", ended_at=now, updated_at=now)
    )
    return True


def abandon_sessions(conn: Connection, worker_id: str, *, now: dt.datetime, action_status: str) -> int:
    """End every session a worker still holds without its help (lost, restarted or stopped worker).

    Open actions become `action_status` (RECLAIMED or INTERRUPTED); their tasks go back to READY
    (or to the status a user asked for) without counting a failure. Returns the sessions ended.
    """
    ended = 0
    for session in open_sessions(conn, worker_id):
        for action in open_actions(conn, session.session_id):
            finish_action(conn, action, action_status, now=now)
        conn.execute(
            update(sessions)
            .where(sessions.c.session_id == session.session_id)
            .values(lifecycle_status="ENDED", ended_at=now, updated_at=now, entered_environments=[])
        )
        ended += 1
    return ended
