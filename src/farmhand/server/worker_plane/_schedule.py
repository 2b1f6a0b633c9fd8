"""UpdateWorkerSchedule: the heartbeat that reports what a worker did and tells it what to do next.

In one transaction: record the heartbeat; apply the reported action updates (re-sent updates and
updates for actions already finished are ignored); carry user cancellations to running work
(`cancelSessionActions`, queued actions dropped, environments exited); assign new work; end sessions
whose exits are done; answer with every live session and all of its unfinished actions, in order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.engine import Row

from ...statuses import FINISHED_SESSION_ACTION_STATUSES, ONLINE_WORKER_STATUSES
from .._shape_rows import columns_from_request
from ..protocol import ConflictError, ResourceNotFoundError
from ..scheduler import DEFAULT_FAILURE_CAP, DEFAULT_IDLE_INTERVAL_SECONDS, kind_of, update_interval
from ..store import session_actions, sessions, tasks, tasks_in, workers
from ._assign import SeenState, assign_work, association_statuses
from ._logs import session_log
from ._sessions import (
    DELIVERED_STATUSES,
    close_if_done,
    drop_queued_after,
    finish_action,
    open_actions,
    open_sessions,
    wind_down,
)
from ._tasks import mark_task_running, settle_succeeded, settle_task

#: Worker statuses in which UpdateWorkerSchedule is accepted.
SCHEDULABLE_WORKER_STATUSES = (*ONLINE_WORKER_STATUSES, "STOPPING")


@dataclass(frozen=True)
class ScheduleSettings:
    failure_cap: int = DEFAULT_FAILURE_CAP
    idle_interval: int = DEFAULT_IDLE_INTERVAL_SECONDS


@dataclass
class ScheduleResult:
    output: dict[str, Any]
    changed_work: bool  # something other workers may now pick up (tasks freed, dependencies resolved)
    # Seconds from READY to RUNNING of each task run this call reported started.
    dispatch_seconds: list[float] = field(default_factory=list)


# Statements of every schedule call, built once (building one costs more than running it).
_WORKER = select(workers).where(
    and_(
        workers.c.worker_id == bindparam("worker_id"),
        workers.c.farm_id == bindparam("farm_id"),
        workers.c.fleet_id == bindparam("fleet_id"),
    )
)
_HEARTBEAT = (
    update(workers)
    .where(workers.c.worker_id == bindparam("beating"))
    .values(last_seen_at=bindparam("seen_at"))
)
_REPORTED_ACTIONS = (
    select(session_actions, sessions.c.worker_id.label("owner"))
    .join(sessions, sessions.c.session_id == session_actions.c.session_id)
    .where(session_actions.c.session_action_id.in_(bindparam("reported", expanding=True)))
    .order_by(session_actions.c.session_id, session_actions.c.action_index)
)
_SUCCEEDED = (
    update(session_actions)
    .where(session_actions.c.session_action_id == bindparam("succeeded_action"))
    .values(
        status="SUCCEEDED",
        started_at=bindparam("s_started"),
        ended_at=bindparam("s_ended"),
        worker_updated_at=bindparam("s_updated"),
        process_exit_code=bindparam("s_exit"),
        progress_message=bindparam("s_message"),
        progress_percent=bindparam("s_percent"),
        manifests=bindparam("s_manifests"),
    )
)


def require_worker(conn: Connection, farm_id: str, fleet_id: str, worker_id: str) -> Row[Any]:
    row = conn.execute(_WORKER, {"worker_id": worker_id, "farm_id": farm_id, "fleet_id": fleet_id}).first()
    if row is None:
        raise ResourceNotFoundError("worker", worker_id)
    return row


def status_conflict(worker_id: str, status: str, message: str) -> ConflictError:
    return ConflictError(
        message,
        reason="STATUS_CONFLICT",
        resource_type="worker",
        resource_id=worker_id,
        context={"status": status},
    )


def update_worker_schedule(
    conn: Connection,
    *,
    farm_id: str,
    fleet_id: str,
    worker_id: str,
    updates: Mapping[str, Mapping[str, Any]],
    now: dt.datetime,
    settings: ScheduleSettings,
    by: str,
) -> ScheduleResult:
    worker = require_worker(conn, farm_id, fleet_id, worker_id)
    if worker.status not in SCHEDULABLE_WORKER_STATUSES:
        raise status_conflict(
            worker_id,
            worker.status,
            f"Worker {worker_id} is {worker.status}; it must call UpdateWorker(STARTED)",
        )
    conn.execute(_HEARTBEAT, {"beating": worker_id, "seen_at": now})
    dispatch_seconds: list[float] = []
    changed = apply_updates(conn, worker_id, updates, now=now, dispatch_seconds=dispatch_seconds)
    cancel: dict[str, list[str]] = defaultdict(list)
    live = open_sessions(conn, worker_id)
    assigning = worker.status != "STOPPING"
    associations = association_statuses(conn, farm_id, fleet_id) if live or assigning else {}
    stopping = {q for q, status in associations.items() if status == "STOP_SCHEDULING_AND_CANCEL_TASKS"}
    actions: dict[str, list[Row[Any]]] = {}
    untouched = True  # nothing read above has been written since
    for session in live:
        # STOP_SCHEDULING_AND_CANCEL_TASKS on the queue's association: its running work stops now.
        end_all = session.queue_id in stopping and session.target_lifecycle_status != "ENDED"
        actions[session.session_id] = open_actions(conn, session.session_id)
        released, wrote = _carry(
            conn, session, cancel, now=now, end_all=end_all, actions=actions[session.session_id]
        )
        changed |= released
        untouched &= not wrote
    given = False
    if assigning:
        seen = SeenState(live, actions, associations) if untouched else None
        given = assign_work(conn, worker, now=now, failure_cap=settings.failure_cap, by=by, seen=seen)
    assigned: dict[str, Any] = {}
    # A worker with no session that was given none still has none (the idle poll): no need to look.
    for session in open_sessions(conn, worker_id) if live or given else []:
        if session.target_lifecycle_status == "ENDED":
            wind_down(conn, session, now=now)
            if close_if_done(conn, session.session_id, now=now):
                changed = True
                continue
        delivered = [a for a in open_actions(conn, session.session_id) if a.status in DELIVERED_STATUSES]
        assigned[session.session_id] = {
            "queueId": session.queue_id,
            "jobId": session.job_id,
            "sessionActions": [
                {"sessionActionId": a.session_action_id, "definition": assigned_definition(a.definition)}
                for a in delivered
            ],
            "logConfiguration": session_log(session.farm_id, session.queue_id, session.session_id),
        }
    if worker.status in ONLINE_WORKER_STATUSES:
        wanted = "RUNNING" if assigned else "IDLE"
        if wanted != worker.status:
            conn.execute(update(workers).where(workers.c.worker_id == worker_id).values(status=wanted))
    output = {
        "assignedSessions": assigned,
        "cancelSessionActions": {k: v for k, v in cancel.items() if k in assigned},
        "updateIntervalSeconds": update_interval(busy=bool(assigned), idle_interval=settings.idle_interval),
    }
    return ScheduleResult(output, changed, dispatch_seconds)


def assigned_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    kind = kind_of(definition)
    body = dict(definition[kind])
    if kind == "taskRun":
        body.setdefault("parameters", {})
    return {kind: body}


def apply_updates(
    conn: Connection,
    worker_id: str,
    updates: Mapping[str, Mapping[str, Any]],
    *,
    now: dt.datetime,
    dispatch_seconds: list[float] | None = None,
) -> bool:
    """Apply reported action updates idempotently; True when an action finished.

    `dispatch_seconds` receives, for each task run reported started for the first time, the seconds
    from its task becoming READY to its start.
    """
    if not updates:
        return False
    rows = list(conn.execute(_REPORTED_ACTIONS, {"reported": list(updates)}))
    finished = False
    succeeded: dict[str, list[tuple[str, str]]] = defaultdict(list)
    plain_successes: list[dict[str, Any]] = []
    dirty = False  # set once an update may have closed other actions of the batch
    for row in rows:
        if row.owner != worker_id:
            continue
        current: Row[Any] | None = row
        if dirty:
            current = conn.execute(
                select(session_actions).where(session_actions.c.session_action_id == row.session_action_id)
            ).first()
        if current is None or current.status in FINISHED_SESSION_ACTION_STATUSES:
            continue
        info = updates[row.session_action_id]
        if dispatch_seconds is not None:
            latency = _dispatch_latency(current, info, now)
            if latency is not None:
                dispatch_seconds.append(latency)
        if info.get("completedStatus") == "SUCCEEDED":
            # The common case, written for the whole batch in one statement.
            plain_successes.append(_success_values(current, info, now))
            if kind_of(current.definition) == "taskRun" and current.task_id:
                succeeded[current.job_id].append((current.task_id, current.session_action_id))
            finished = True
            continue
        dirty = True
        finished |= _apply_one(conn, current, info, succeeded, now=now)
    if plain_successes:
        conn.execute(_SUCCEEDED, plain_successes)
    for job_id, pairs in succeeded.items():
        settle_succeeded(conn, job_id, pairs, now=now)
    return finished


def _dispatch_latency(action: Row[Any], info: Mapping[str, Any], now: dt.datetime) -> float | None:
    """READY → RUNNING of a task run reported started for the first time (None otherwise)."""
    ready_at = action._mapping.get("ready_at")
    if ready_at is None or action.started_at is not None or info.get("completedStatus") == "NEVER_ATTEMPTED":
        return None
    started = info.get("startedAt") or now
    return max(0.0, float((started - ready_at).total_seconds()))


def _success_values(action: Row[Any], info: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    started = info.get("startedAt") or action.started_at
    is_task = kind_of(action.definition) == "taskRun"
    return {
        "succeeded_action": action.session_action_id,
        "s_started": started,
        "s_ended": info.get("endedAt") or (now if started is not None else None),
        "s_updated": info.get("updatedAt") or now,
        "s_exit": info.get("processExitCode", action.process_exit_code),
        "s_message": info.get("progressMessage", action.progress_message),
        "s_percent": 100 if is_task else action.progress_percent,
        "s_manifests": info.get("manifests", action.manifests),
    }


def _apply_one(
    conn: Connection,
    action: Row[Any],
    info: Mapping[str, Any],
    succeeded: dict[str, list[tuple[str, str]]],
    *,
    now: dt.datetime,
) -> bool:
    """Apply one update; SUCCEEDED task runs are collected in `succeeded` and settled together."""
    kind = kind_of(action.definition)
    completed = info.get("completedStatus")
    values: dict[str, Any] = {
        **columns_from_request("UpdatedSessionActionInfo", dict(info), session_actions, given_only=True),
        "worker_updated_at": info.get("updatedAt") or now,
    }
    if info.get("progressPercent") is not None:
        values["progress_percent"] = int(max(0.0, min(100.0, float(info["progressPercent"]))))
    if not completed:
        if action.status != "CANCELING":
            values["status"] = "RUNNING"
        if values.get("started_at") is None and action.started_at is None:
            values["started_at"] = now
        conn.execute(
            update(session_actions)
            .where(session_actions.c.session_action_id == action.session_action_id)
            .values(**values)
        )
        if kind == "taskRun" and action.task_id:
            mark_task_running(conn, action.job_id, action.task_id, action.session_action_id, now=now)
        return False
    values["status"] = completed
    if completed == "SUCCEEDED" and kind == "taskRun":
        values["progress_percent"] = 100
    if values.get("ended_at") is None and (values.get("started_at") or action.started_at) is not None:
        values["ended_at"] = now
    conn.execute(
        update(session_actions)
        .where(session_actions.c.session_action_id == action.session_action_id)
        .values(**values)
    )
    if kind == "taskRun" and action.task_id:
        if completed == "SUCCEEDED":
            succeeded[action.job_id].append((action.task_id, action.session_action_id))
        else:
            settle_task(conn, action.job_id, action.task_id, action.session_action_id, completed, now=now)
    if completed in ("FAILED", "CANCELED", "INTERRUPTED") and kind != "envExit":
        # The worker abandons the rest of the session but its environment exits (spec §5.7). A failed
        # environment or sync counts as a failed attempt of the task it was preparing.
        drop_queued_after(
            conn,
            action.session_id,
            action.action_index,
            now=now,
            count_first_task=completed == "FAILED" and kind != "taskRun",
        )
        session = conn.execute(select(sessions).where(sessions.c.session_id == action.session_id)).first()
        if session is not None:
            wind_down(conn, session, now=now)
    return True


def carry_interruptions(
    conn: Connection,
    session: Row[Any],
    cancel: dict[str, list[str]],
    *,
    now: dt.datetime,
    end_all: bool = False,
) -> bool:
    """Stop work a user canceled/suspended/requeued (or, with `end_all`, all work of the session).

    A running action is named in `cancelSessionActions` (CANCELING until the worker reports); queued
    non-exit actions are dropped as NEVER_ATTEMPTED (the first one is also named, in case it has
    just started); the session then winds down. A CANCELING action the worker never reported as
    started is named once more and closed. Returns True when tasks were released.
    """
    released, _ = _carry(conn, session, cancel, now=now, end_all=end_all)
    return released


def _carry(
    conn: Connection,
    session: Row[Any],
    cancel: dict[str, list[str]],
    *,
    now: dt.datetime,
    end_all: bool = False,
    actions: list[Row[Any]] | None = None,
) -> tuple[bool, bool]:
    """`carry_interruptions` on the session's open `actions` (read when not given): whether tasks
    were released, and whether anything was written."""
    if actions is None:
        actions = open_actions(conn, session.session_id)
    if not actions:
        return False, False
    released = False
    for action in actions:
        if action.status == "CANCELING":
            cancel[session.session_id].append(action.session_action_id)
            if action.started_at is None and not end_all:
                finish_action(conn, action, "NEVER_ATTEMPTED", now=now)
                released = True
    task_ids = [a.task_id for a in actions if a.task_id and a.status != "CANCELING"]
    interrupted: set[str] = set()
    if task_ids:
        interrupted = {
            r.task_id
            for r in conn.execute(
                select(tasks.c.task_id).where(and_(tasks_in(task_ids), tasks.c.run_status == "INTERRUPTING"))
            )
        }
    if not interrupted and not end_all:
        return released, released
    hit = False
    head = actions[0].session_action_id
    for action in actions:
        if kind_of(action.definition) == "envExit" or action.status == "CANCELING":
            continue
        if not (end_all or hit or action.task_id in interrupted):
            continue
        hit = True
        is_head = action.session_action_id == head
        if action.status == "RUNNING" or (end_all and is_head):
            # Delivered to the worker in the next answer when `end_all` (a user's UpdateSession).
            conn.execute(
                update(session_actions)
                .where(session_actions.c.session_action_id == action.session_action_id)
                .values(status="CANCELING")
            )
            cancel[session.session_id].append(action.session_action_id)
        else:
            if is_head:
                cancel[session.session_id].append(action.session_action_id)
            finish_action(conn, action, "NEVER_ATTEMPTED", now=now)
            released = True
    wind_down(conn, session, now=now)
    return released, True
