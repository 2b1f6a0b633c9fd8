"""Queue-fleet associations: which fleets take work from which queues, and how they wind down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, select

from ..protocol import ConflictError, ResourceNotFoundError
from ..store import find_document, sessions
from ._common import (
    delete_resource,
    insert_resource,
    list_resources,
    save_resource,
    stamp_created,
    stamp_updated,
)
from ._registry import Call, Output, Params, operation
from .farms import require_farm
from .fleets import require_fleet
from .queues import require_queue

KIND = "queue-fleet-association"
STOPPING_STATUSES = ("STOP_SCHEDULING_AND_COMPLETE_TASKS", "STOP_SCHEDULING_AND_CANCEL_TASKS")


def association_id(queue_id: str, fleet_id: str) -> str:
    """The association's key in the resources table: the (queue, fleet) pair is its natural key."""
    return f"{queue_id}:{fleet_id}"


def _require(conn: Connection, farm_id: str, queue_id: str, fleet_id: str) -> dict[str, Any]:
    doc = find_document(conn, KIND, association_id(queue_id, fleet_id), farm_id=farm_id)
    if doc is None:
        raise ResourceNotFoundError(
            "queue-fleet-association",
            association_id(queue_id, fleet_id),
            f"Queue {queue_id} is not associated with fleet {fleet_id}",
        )
    return doc


def has_open_sessions(conn: Connection, queue_id: str, fleet_id: str) -> bool:
    row = conn.execute(
        select(sessions.c.session_id)
        .where(
            and_(
                sessions.c.queue_id == queue_id,
                sessions.c.fleet_id == fleet_id,
                sessions.c.ended_at.is_(None),
                sessions.c.lifecycle_status != "ENDED",
            )
        )
        .limit(1)
    ).first()
    return row is not None


def effective_status(conn: Connection, doc: dict[str, Any]) -> str:
    """A stopping association counts as STOPPED once no session of its queue is open on its fleet."""
    status = str(doc["status"])
    if status in STOPPING_STATUSES and not has_open_sessions(conn, doc["queueId"], doc["fleetId"]):
        return "STOPPED"
    return status


def _view(conn: Connection, doc: dict[str, Any]) -> dict[str, Any]:
    doc["status"] = effective_status(conn, doc)
    return doc


@operation("CreateQueueFleetAssociation")
def create_association(call: Call, params: Params) -> Output:
    farm_id, queue_id, fleet_id = params["farmId"], params["queueId"], params["fleetId"]
    require_farm(call, farm_id)
    require_queue(call.conn, farm_id, queue_id)
    require_fleet(call.conn, farm_id, fleet_id)
    key = association_id(queue_id, fleet_id)
    if find_document(call.conn, KIND, key) is not None:
        raise ConflictError(
            f"Queue {queue_id} is already associated with fleet {fleet_id}",
            reason="RESOURCE_ALREADY_EXISTS",
            resource_type="queue-fleet-association",
            resource_id=key,
        )
    doc = stamp_created(call, {"queueId": queue_id, "fleetId": fleet_id, "status": "ACTIVE"})
    insert_resource(call, KIND, key, doc, farm_id=farm_id, parent_id=queue_id, ref_id=fleet_id)
    return {}


@operation("GetQueueFleetAssociation")
def get_association(call: Call, params: Params) -> Output:
    return _view(call.conn, _require(call.conn, params["farmId"], params["queueId"], params["fleetId"]))


@operation("UpdateQueueFleetAssociation")
def update_association(call: Call, params: Params) -> Output:
    farm_id, queue_id, fleet_id = params["farmId"], params["queueId"], params["fleetId"]
    doc = _require(call.conn, farm_id, queue_id, fleet_id)
    doc["status"] = params["status"]
    save_resource(call, KIND, association_id(queue_id, fleet_id), stamp_updated(call, doc))
    return {}


@operation("DeleteQueueFleetAssociation")
def delete_association(call: Call, params: Params) -> Output:
    farm_id, queue_id, fleet_id = params["farmId"], params["queueId"], params["fleetId"]
    doc = _require(call.conn, farm_id, queue_id, fleet_id)
    status = effective_status(call.conn, doc)
    if status != "STOPPED":
        raise ConflictError(
            f"The association of queue {queue_id} and fleet {fleet_id} is {status}; set it to "
            "STOP_SCHEDULING_AND_COMPLETE_TASKS or STOP_SCHEDULING_AND_CANCEL_TASKS and wait for STOPPED",
            reason="STATUS_CONFLICT",
            resource_type="queue-fleet-association",
            resource_id=association_id(queue_id, fleet_id),
            context={"status": status},
        )
    delete_resource(call, KIND, association_id(queue_id, fleet_id))
    return {}


@operation("ListQueueFleetAssociations")
def list_associations(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    docs, token = list_resources(
        call, KIND, params, farm_id=farm_id, parent_id=params.get("queueId"), ref_id=params.get("fleetId")
    )
    return {"queueFleetAssociations": [_view(call.conn, doc) for doc in docs], "nextToken": token}
