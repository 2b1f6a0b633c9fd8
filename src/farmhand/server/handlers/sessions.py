"""Sessions and session actions as users see them: reads, and UpdateSession(ENDED) (spec §2.12)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.engine import Row

from ..jobs import require_job, with_ids
from ..protocol import ResourceNotFoundError, ValidationError
from ..store import session_actions, sessions, workers
from ..worker_plane import carry_interruptions, session_log, worker_log
from ._common import page
from ._registry import Call, Output, Params, operation


def _session_row(
    conn: Connection, farm_id: str, queue_id: str, job_id: str, session_id: str
) -> Row[Any] | None:
    return conn.execute(
        select(sessions).where(
            and_(
                sessions.c.session_id == session_id,
                sessions.c.farm_id == farm_id,
                sessions.c.queue_id == queue_id,
                sessions.c.job_id == job_id,
            )
        )
    ).first()


def _require_session(conn: Connection, params: Params) -> Row[Any]:
    row = _session_row(conn, params["farmId"], params["queueId"], params["jobId"], params["sessionId"])
    if row is None:
        raise ResourceNotFoundError("session", params["sessionId"])
    return row


def session_summary(row: Row[Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "sessionId": row.session_id,
        "fleetId": row.fleet_id,
        "workerId": row.worker_id,
        "startedAt": row.started_at,
        "lifecycleStatus": row.lifecycle_status,
    }
    if row.ended_at is not None:
        view["endedAt"] = row.ended_at
    if row.target_lifecycle_status:
        view["targetLifecycleStatus"] = row.target_lifecycle_status
    if row.updated_at is not None:
        view["updatedAt"] = row.updated_at
        if row.updated_by:
            view["updatedBy"] = row.updated_by
    return view


def session_view(row: Row[Any]) -> dict[str, Any]:
    view = session_summary(row)
    view["log"] = session_log(row.farm_id, row.queue_id, row.session_id)
    view["workerLog"] = worker_log(row.farm_id, row.fleet_id, row.worker_id)
    if row.host_properties:
        view["hostProperties"] = dict(row.host_properties)
    return view


def action_view(row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    kind, body = next(iter(dict(row.definition).items()))
    view: dict[str, Any] = {
        "sessionActionId": row.session_action_id,
        "status": row.status,
        "definition": {kind: dict(body)},
    }
    if not summary:
        view["sessionId"] = row.session_id
    for member, column in (
        ("startedAt", "started_at"),
        ("endedAt", "ended_at"),
        ("workerUpdatedAt", "worker_updated_at"),
        ("progressPercent", "progress_percent"),
        ("manifests", "manifests"),
    ):
        value = getattr(row, column)
        if value is not None:
            view[member] = float(value) if member == "progressPercent" else value
    if not summary:
        if row.process_exit_code is not None:
            view["processExitCode"] = row.process_exit_code
        if row.progress_message:
            view["progressMessage"] = row.progress_message
    return view


@operation("ListSessions")
def list_sessions(call: Call, params: Params) -> Output:
    require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    stmt = select(sessions).where(sessions.c.job_id == params["jobId"])
    rows, token = page(call.conn, stmt, [sessions.c.started_at, sessions.c.session_id], params)
    return {"sessions": [session_summary(r) for r in rows], "nextToken": token}


@operation("GetSession")
def get_session(call: Call, params: Params) -> Output:
    return session_view(_require_session(call.conn, params))


def _job_ids(identifier: dict[str, str]) -> dict[str, str]:
    """Batch reads echo the ids of each item (required members of the model's batch shapes)."""
    return {key: identifier[key] for key in ("farmId", "queueId", "jobId")}


@operation("BatchGetSession")
def batch_get_session(call: Call, params: Params) -> Output:
    found, errors = [], []
    for identifier in params["identifiers"]:
        row = _session_row(
            call.conn,
            identifier["farmId"],
            identifier["queueId"],
            identifier["jobId"],
            identifier["sessionId"],
        )
        if row is None:
            errors.append({**identifier, "code": "ResourceNotFoundException", "message": "Session not found"})
        else:
            found.append(with_ids(session_view(row), **_job_ids(identifier)))
    return {"sessions": found, "errors": errors}


@operation("UpdateSession")
def update_session(call: Call, params: Params) -> Output:
    """Ask the worker to wind the session down: running work is canceled, environments exited."""
    row = _require_session(call.conn, params)
    if params["targetLifecycleStatus"] != "ENDED":
        raise ValidationError.for_field("targetLifecycleStatus", "must be ENDED")
    if row.lifecycle_status != "ENDED":
        carry_interruptions(call.conn, row, defaultdict(list), now=call.now, end_all=True)
        call.conn.execute(
            update(sessions)
            .where(sessions.c.session_id == row.session_id)
            .values(target_lifecycle_status="ENDED", updated_at=call.now, updated_by=call.principal.arn)
        )
    return {}


@operation("ListSessionActions")
def list_session_actions(call: Call, params: Params) -> Output:
    require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    stmt = select(session_actions).where(session_actions.c.job_id == params["jobId"])
    if params.get("sessionId"):
        stmt = stmt.where(session_actions.c.session_id == params["sessionId"])
    if params.get("taskId"):
        stmt = stmt.where(session_actions.c.task_id == params["taskId"])
    rows, token = page(
        call.conn, stmt, [session_actions.c.session_id, session_actions.c.action_index], params
    )
    return {"sessionActions": [action_view(r, summary=True) for r in rows], "nextToken": token}


def _action_row(conn: Connection, identifier: dict[str, str]) -> Row[Any] | None:
    return conn.execute(
        select(session_actions)
        .join(sessions, sessions.c.session_id == session_actions.c.session_id)
        .where(
            and_(
                session_actions.c.session_action_id == identifier["sessionActionId"],
                session_actions.c.job_id == identifier["jobId"],
                sessions.c.queue_id == identifier["queueId"],
                sessions.c.farm_id == identifier["farmId"],
            )
        )
    ).first()


@operation("GetSessionAction")
def get_session_action(call: Call, params: Params) -> Output:
    row = _action_row(call.conn, params)
    if row is None:
        raise ResourceNotFoundError("session-action", params["sessionActionId"])
    return action_view(row)


@operation("BatchGetSessionAction")
def batch_get_session_action(call: Call, params: Params) -> Output:
    found, errors = [], []
    for identifier in params["identifiers"]:
        row = _action_row(call.conn, identifier)
        if row is None:
            errors.append(
                {**identifier, "code": "ResourceNotFoundException", "message": "Session action not found"}
            )
        else:
            found.append(with_ids(action_view(row), **_job_ids(identifier)))
    return {"sessionActions": found, "errors": errors}


__all__ = ["action_view", "session_summary", "session_view", "workers"]
