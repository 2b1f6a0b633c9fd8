"""Farms: the top of the resource tree."""

from __future__ import annotations

from .._ids import new_id
from ..access import put_membership
from ..identity_store import identity_store_id
from ..protocol import ConflictError
from ..store import count_documents
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

KIND = "farm"
DEFAULT_COST_SCALE_FACTOR = 100.0


def farm_arn(call: Call, farm_id: str) -> str:
    return call.arn(f"farm/{farm_id}")


def require_farm(call: Call, farm_id: str) -> dict[str, object]:
    return get_resource(call.conn, KIND, farm_id, resource_type="farm")


@operation("CreateFarm")
def create_farm(call: Call, params: Params) -> Output:
    farm_id = new_id("farm")
    doc = stamp_created(
        call,
        {
            "farmId": farm_id,
            "displayName": params["displayName"],
            "description": params.get("description"),
            "kmsKeyArn": params.get("kmsKeyArn"),
            "costScaleFactor": params.get("costScaleFactor", DEFAULT_COST_SCALE_FACTOR),
        },
    )
    insert_resource(call, KIND, farm_id, doc, farm_id=farm_id)
    save_tags(call, farm_arn(call, farm_id), params.get("tags"))
    # The creator of a farm is its OWNER.
    put_membership(
        call.conn,
        kind=KIND,
        resource_id=farm_id,
        farm_id=farm_id,
        queue_id=None,
        principal_id=call.principal.principal_id,
        principal_type="USER",
        identity_store=identity_store_id(call.conn),
        level="OWNER",
        now=call.now,
    )
    return {"farmId": farm_id}


@operation("GetFarm")
def get_farm(call: Call, params: Params) -> Output:
    return require_farm(call, params["farmId"])


@operation("UpdateFarm")
def update_farm(call: Call, params: Params) -> Output:
    doc = require_farm(call, params["farmId"])
    for member in ("displayName", "description", "costScaleFactor"):
        if member in params:
            doc[member] = params[member]
    save_resource(call, KIND, params["farmId"], stamp_updated(call, doc))
    return {}


@operation("DeleteFarm")
def delete_farm(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    for kind in ("queue", "fleet", "storage-profile"):
        if count_documents(call.conn, kind, farm_id=farm_id):
            raise ConflictError(
                f"Farm {farm_id} still has a {kind}; delete its queues, fleets and storage profiles first",
                reason="RESOURCE_IN_USE",
                resource_type="farm",
                resource_id=farm_id,
            )
    delete_resource(call, KIND, farm_id)
    drop_tags(call, farm_arn(call, farm_id))
    return {}


@operation("ListFarms")
def list_farms(call: Call, params: Params) -> Output:
    farms, token = list_resources(call, KIND, params, created_by_id=params.get("principalId"))
    return {"farms": farms, "nextToken": token}
