"""Workers: registration, status, reads, search and deletion (spec §2.13)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.engine import Row

from .._ids import new_id
from ..jobs import search
from ..jobs._search import Field, SearchTarget
from ..protocol import ConflictError, ValidationError
from ..store import sessions, workers
from ..worker_plane import change_worker_status, require_worker, status_conflict, worker_log
from ._common import page, save_tags
from ._registry import Call, Output, Params, operation
from .fleets import require_fleet

DELETABLE_STATUSES = ("CREATED", "STOPPED")

WORKER_SEARCH = SearchTarget(
    table=workers,
    fields={
        "WORKER_ID": Field((workers.c.worker_id,), "string"),
        "FLEET_ID": Field((workers.c.fleet_id,), "string"),
        "STATUS": Field((workers.c.status,), "string"),
        "HOST_NAME": Field((workers.c.host_properties["hostName"].as_string(),), "string"),
        "CREATED_AT": Field((workers.c.created_at,), "datetime"),
        "UPDATED_AT": Field((workers.c.updated_at,), "datetime"),
    },
    text_columns=(workers.c.worker_id, workers.c.host_properties["hostName"].as_string()),
    parameters=None,
    order_tail=(workers.c.created_at, workers.c.worker_id),
    creator=workers.c.created_by,
)


def worker_arn(call: Call, farm_id: str, fleet_id: str, worker_id: str) -> str:
    return call.arn(f"farm/{farm_id}/fleet/{fleet_id}/worker/{worker_id}")


def worker_view(row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "farmId": row.farm_id,
        "fleetId": row.fleet_id,
        "workerId": row.worker_id,
        "status": row.status,
        "log": worker_log(row.farm_id, row.fleet_id, row.worker_id),
        "createdAt": row.created_at,
        "createdBy": row.created_by,
    }
    if row.host_properties:
        view["hostProperties"] = dict(row.host_properties)
    if row.updated_at is not None:
        view["updatedAt"] = row.updated_at
        view["updatedBy"] = row.updated_by
    return view


def _search_view(row: Row[Any]) -> dict[str, Any]:
    view = worker_view(row)
    view.pop("log")
    view.pop("farmId")
    return view


@operation("CreateWorker")
def create_worker(call: Call, params: Params) -> Output:
    farm_id, fleet_id = params["farmId"], params["fleetId"]
    fleet = require_fleet(call.conn, farm_id, fleet_id)
    if fleet.get("status") in ("CREATE_IN_PROGRESS",):
        raise ConflictError(
            f"Fleet {fleet_id} is still being created",
            reason="STATUS_CONFLICT",
            resource_type="fleet",
            resource_id=fleet_id,
            context={"status": str(fleet["status"])},
        )
    worker_id = new_id("worker")
    call.conn.execute(
        insert(workers).values(
            worker_id=worker_id,
            farm_id=farm_id,
            fleet_id=fleet_id,
            status="CREATED",
            host_properties=_host_properties(params.get("hostProperties")),
            created_at=call.now,
            created_by=call.principal.arn,
        )
    )
    save_tags(call, worker_arn(call, farm_id, fleet_id, worker_id), params.get("tags"))
    call.hints.quiet = True
    return {"workerId": worker_id}


def _host_properties(given: dict[str, Any] | None) -> dict[str, Any] | None:
    if not given:
        return None
    return {k: v for k, v in given.items() if k in ("ipAddresses", "hostName")}


@operation("UpdateWorker")
def update_worker(call: Call, params: Params) -> Output:
    farm_id, fleet_id, worker_id = params["farmId"], params["fleetId"], params["workerId"]
    worker = require_worker(call.conn, farm_id, fleet_id, worker_id)
    extra: dict[str, Any] = {}
    if "capabilities" in params:
        extra["capabilities"] = params["capabilities"]
    if "hostProperties" in params:
        extra["host_properties"] = _host_properties(params["hostProperties"])
    released = change_worker_status(
        call.conn, worker, params.get("status"), now=call.now, by=call.principal.arn, extra=extra
    )
    call.hints.quiet = not released
    return {"log": worker_log(farm_id, fleet_id, worker_id)}


@operation("GetWorker")
def get_worker(call: Call, params: Params) -> Output:
    return worker_view(require_worker(call.conn, params["farmId"], params["fleetId"], params["workerId"]))


@operation("ListWorkers")
def list_workers(call: Call, params: Params) -> Output:
    require_fleet(call.conn, params["farmId"], params["fleetId"])
    stmt = select(workers).where(
        and_(workers.c.farm_id == params["farmId"], workers.c.fleet_id == params["fleetId"])
    )
    rows, token = page(call.conn, stmt, [workers.c.created_at, workers.c.worker_id], params)
    return {"workers": [worker_view(r) for r in rows], "nextToken": token}


@operation("BatchGetWorker")
def batch_get_worker(call: Call, params: Params) -> Output:
    found, errors = [], []
    for identifier in params["identifiers"]:
        row = _find(call.conn, identifier)
        if row is None:
            errors.append({**identifier, "code": "ResourceNotFoundException", "message": "Worker not found"})
        else:
            found.append(worker_view(row))
    return {"workers": found, "errors": errors}


def _find(conn: Connection, identifier: dict[str, str]) -> Row[Any] | None:
    return conn.execute(
        select(workers).where(
            and_(
                workers.c.worker_id == identifier["workerId"],
                workers.c.farm_id == identifier["farmId"],
                workers.c.fleet_id == identifier["fleetId"],
            )
        )
    ).first()


@operation("DeleteWorker")
def delete_worker(call: Call, params: Params) -> Output:
    worker = require_worker(call.conn, params["farmId"], params["fleetId"], params["workerId"])
    if worker.status not in DELETABLE_STATUSES:
        raise status_conflict(
            worker.worker_id,
            worker.status,
            f"Worker {worker.worker_id} is {worker.status}; only CREATED or STOPPED workers can be deleted",
        )
    call.conn.execute(delete(workers).where(workers.c.worker_id == worker.worker_id))
    call.hints.quiet = True
    return {}


@operation("SearchWorkers")
def search_workers(call: Call, params: Params) -> Output:
    fleet_ids = params["fleetIds"]
    if not 1 <= len(fleet_ids) <= 10:
        raise ValidationError.for_field("fleetIds", "must hold 1 to 10 fleet ids")
    scope = and_(workers.c.farm_id == params["farmId"], workers.c.fleet_id.in_(list(fleet_ids)))
    rows, total, following = search(call.conn, WORKER_SEARCH, params, scope=scope)
    return {"workers": [_search_view(r) for r in rows], "totalResults": total, "nextItemOffset": following}


@operation("ListSessionsForWorker")
def list_sessions_for_worker(call: Call, params: Params) -> Output:
    worker = require_worker(call.conn, params["farmId"], params["fleetId"], params["workerId"])
    stmt = select(sessions).where(sessions.c.worker_id == worker.worker_id)
    rows, token = page(call.conn, stmt, [sessions.c.started_at, sessions.c.session_id], params)
    summaries = []
    for r in rows:
        summary: dict[str, Any] = {
            "sessionId": r.session_id,
            "queueId": r.queue_id,
            "jobId": r.job_id,
            "startedAt": r.started_at,
            "lifecycleStatus": r.lifecycle_status,
        }
        if r.ended_at is not None:
            summary["endedAt"] = r.ended_at
        if r.target_lifecycle_status:
            summary["targetLifecycleStatus"] = r.target_lifecycle_status
        summaries.append(summary)
    return {"sessions": summaries, "nextToken": token}


def touch(call: Call, worker_id: str) -> None:
    call.conn.execute(update(workers).where(workers.c.worker_id == worker_id).values(last_seen_at=call.now))
