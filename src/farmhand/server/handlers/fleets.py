"""Fleets: customer-managed groups of workers, with the capabilities their workers offer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, select

from .._ids import new_id
from ..protocol import ConflictError, ValidationError
from ..store import count_documents, workers
from ._common import (
    delete_resource,
    drop_tags,
    get_resource,
    insert_resource,
    list_resources,
    save_resource,
    save_tags,
    stamp_created,
    stamp_updated,
)
from ._registry import Call, Output, Params, operation
from .farms import require_farm

KIND = "fleet"
# Workers in these states are not part of a fleet's live count (`workerCount`): CREATED ones have not
# started (their agent may have failed before it could), the others are gone or unusable.
NOT_COUNTED_WORKER_STATUSES = ("CREATED", "STOPPED", "NOT_RESPONDING", "NOT_COMPATIBLE")


def fleet_arn(call: Call, farm_id: str, fleet_id: str) -> str:
    return call.arn(f"farm/{farm_id}/fleet/{fleet_id}")


def require_fleet(conn: Connection, farm_id: str, fleet_id: str) -> dict[str, Any]:
    return get_resource(conn, KIND, fleet_id, farm_id=farm_id, resource_type="fleet")


def fleet_capabilities(configuration: dict[str, Any]) -> dict[str, Any]:
    """The `capabilities` a customer-managed configuration declares, in OpenJD capability names."""
    wanted = configuration["customerManaged"]["workerCapabilities"]
    amounts: list[dict[str, Any]] = []

    def amount(name: str, bounds: dict[str, Any] | None) -> None:
        if bounds is not None:
            entry: dict[str, Any] = {"name": name, "min": float(bounds["min"])}
            if bounds.get("max") is not None:
                entry["max"] = float(bounds["max"])
            amounts.append(entry)

    amount("amount.worker.vcpu", wanted["vCpuCount"])
    amount("amount.worker.memory", wanted["memoryMiB"])
    amount("amount.worker.gpu", wanted.get("acceleratorCount"))
    amount("amount.worker.gpu.memory", wanted.get("acceleratorTotalMemoryMiB"))
    amounts += [dict(custom) for custom in wanted.get("customAmounts", [])]
    attributes: list[dict[str, Any]] = [
        {"name": "attr.worker.os.family", "values": [wanted["osFamily"].lower()]},
        {"name": "attr.worker.cpu.arch", "values": [wanted["cpuArchitectureType"]]},
    ]
    attributes += [dict(custom) for custom in wanted.get("customAttributes", [])]
    return {"amounts": amounts, "attributes": attributes}


def _check_configuration(configuration: dict[str, Any]) -> None:
    if "customerManaged" not in configuration:
        raise ValidationError.for_field(
            "configuration",
            "farmhand runs customer-managed fleets only (serviceManagedEc2 needs AWS to launch instances)",
        )


def _check_counts(minimum: int, maximum: int) -> None:
    if minimum > maximum:
        raise ValidationError.for_field(
            "minWorkerCount", f"must not exceed maxWorkerCount ({minimum} > {maximum})"
        )


def worker_counts(conn: Connection, fleet_ids: list[str]) -> dict[str, int]:
    """Live workers per fleet, straight from the workers table."""
    if not fleet_ids:
        return {}
    rows = conn.execute(
        select(workers.c.fleet_id, func.count())
        .where(and_(workers.c.fleet_id.in_(fleet_ids), workers.c.status.not_in(NOT_COUNTED_WORKER_STATUSES)))
        .group_by(workers.c.fleet_id)
    )
    return {row[0]: int(row[1]) for row in rows}


def _view(doc: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    doc["workerCount"] = counts.get(doc["fleetId"], 0)
    return doc


@operation("CreateFleet")
def create_fleet(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    configuration = params["configuration"]
    _check_configuration(configuration)
    minimum = params.get("minWorkerCount", 0)
    _check_counts(minimum, params["maxWorkerCount"])
    fleet_id = new_id("fleet")
    doc = stamp_created(
        call,
        {
            "fleetId": fleet_id,
            "farmId": farm_id,
            "displayName": params["displayName"],
            "description": params.get("description"),
            "roleArn": params["roleArn"],
            "status": "ACTIVE",
            "minWorkerCount": minimum,
            "maxWorkerCount": params["maxWorkerCount"],
            "configuration": configuration,
            "capabilities": fleet_capabilities(configuration),
            "hostConfiguration": params.get("hostConfiguration"),
        },
    )
    insert_resource(call, KIND, fleet_id, doc, farm_id=farm_id)
    save_tags(call, fleet_arn(call, farm_id, fleet_id), params.get("tags"))
    return {"fleetId": fleet_id}


@operation("GetFleet")
def get_fleet(call: Call, params: Params) -> Output:
    doc = require_fleet(call.conn, params["farmId"], params["fleetId"])
    return _view(doc, worker_counts(call.conn, [doc["fleetId"]]))


@operation("UpdateFleet")
def update_fleet(call: Call, params: Params) -> Output:
    doc = require_fleet(call.conn, params["farmId"], params["fleetId"])
    if "configuration" in params:
        _check_configuration(params["configuration"])
        doc["configuration"] = params["configuration"]
        doc["capabilities"] = fleet_capabilities(params["configuration"])
    for member in ("displayName", "description", "roleArn", "minWorkerCount", "maxWorkerCount"):
        if member in params:
            doc[member] = params[member]
    if "hostConfiguration" in params:
        doc["hostConfiguration"] = params["hostConfiguration"]
    _check_counts(doc["minWorkerCount"], doc["maxWorkerCount"])
    save_resource(call, KIND, params["fleetId"], stamp_updated(call, doc))
    return {}


@operation("DeleteFleet")
def delete_fleet(call: Call, params: Params) -> Output:
    farm_id, fleet_id = params["farmId"], params["fleetId"]
    require_fleet(call.conn, farm_id, fleet_id)
    running = call.conn.execute(
        select(workers.c.worker_id, workers.c.status)
        .where(and_(workers.c.fleet_id == fleet_id, workers.c.status != "STOPPED"))
        .limit(1)
    ).first()
    if running is not None:
        raise ConflictError(
            f"Fleet {fleet_id} still has worker {running.worker_id} in status {running.status}; "
            "stop its workers first",
            reason="RESOURCE_IN_USE",
            resource_type="fleet",
            resource_id=fleet_id,
        )
    if count_documents(call.conn, "queue-fleet-association", ref_id=fleet_id):
        raise ConflictError(
            f"Fleet {fleet_id} is still associated with a queue; delete its queue-fleet associations first",
            reason="RESOURCE_IN_USE",
            resource_type="fleet",
            resource_id=fleet_id,
        )
    delete_resource(call, KIND, fleet_id)
    drop_tags(call, fleet_arn(call, farm_id, fleet_id))
    return {}


@operation("ListFleets")
def list_fleets(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    fleets, token = list_resources(
        call,
        KIND,
        params,
        farm_id=farm_id,
        status=params.get("status"),
        display_name=params.get("displayName"),
        created_by_id=params.get("principalId"),
    )
    counts = worker_counts(call.conn, [doc["fleetId"] for doc in fleets])
    return {"fleets": [_view(doc, counts) for doc in fleets], "nextToken": token}
