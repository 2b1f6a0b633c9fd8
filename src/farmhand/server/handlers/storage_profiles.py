"""Storage profiles: where shared and local file system locations live on each OS, per farm."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from .._ids import new_id
from .._path_mapping import profile_for_queue
from ..protocol import ConflictError, ResourceNotFoundError, ValidationError
from ..store import resources
from ._common import (
    delete_resource,
    get_resource,
    insert_resource,
    list_resources,
    save_resource,
    stamp_created,
    stamp_updated,
)
from ._registry import Call, Output, Params, operation
from .farms import require_farm
from .queues import require_queue

KIND = "storage-profile"


def _check_unique_names(locations: list[dict[str, Any]], member: str) -> None:
    seen: set[str] = set()
    for location in locations:
        if location["name"] in seen:
            raise ValidationError.for_field(member, f"has two locations named {location['name']!r}")
        seen.add(location["name"])


def require_storage_profile(call: Call, farm_id: str, profile_id: str) -> dict[str, Any]:
    return get_resource(call.conn, KIND, profile_id, farm_id=farm_id, resource_type="storage-profile")


@operation("CreateStorageProfile")
def create_storage_profile(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    locations = list(params.get("fileSystemLocations", []))
    _check_unique_names(locations, "fileSystemLocations")
    profile_id = new_id("sp")
    doc = stamp_created(
        call,
        {
            "storageProfileId": profile_id,
            "displayName": params["displayName"],
            "osFamily": params["osFamily"],
            "fileSystemLocations": locations,
        },
    )
    insert_resource(call, KIND, profile_id, doc, farm_id=farm_id)
    return {"storageProfileId": profile_id}


@operation("GetStorageProfile")
def get_storage_profile(call: Call, params: Params) -> Output:
    return require_storage_profile(call, params["farmId"], params["storageProfileId"])


@operation("UpdateStorageProfile")
def update_storage_profile(call: Call, params: Params) -> Output:
    doc = require_storage_profile(call, params["farmId"], params["storageProfileId"])
    for member in ("displayName", "osFamily"):
        if member in params:
            doc[member] = params[member]
    removed = {location["name"] for location in params.get("fileSystemLocationsToRemove", [])}
    locations = [loc for loc in doc.get("fileSystemLocations", []) if loc["name"] not in removed]
    locations += params.get("fileSystemLocationsToAdd", [])
    _check_unique_names(locations, "fileSystemLocationsToAdd")
    doc["fileSystemLocations"] = locations
    save_resource(call, KIND, params["storageProfileId"], stamp_updated(call, doc))
    return {}


@operation("DeleteStorageProfile")
def delete_storage_profile(call: Call, params: Params) -> Output:
    farm_id, profile_id = params["farmId"], params["storageProfileId"]
    require_storage_profile(call, farm_id, profile_id)
    queue_docs = call.conn.execute(
        select(resources.c.doc).where(and_(resources.c.kind == "queue", resources.c.farm_id == farm_id))
    ).scalars()
    for queue in queue_docs:
        if profile_id in (queue.get("allowedStorageProfileIds") or []):
            raise ConflictError(
                f"Storage profile {profile_id} is allowed on queue {queue['queueId']}; "
                "remove it from the queue first",
                reason="RESOURCE_IN_USE",
                resource_type="storage-profile",
                resource_id=profile_id,
            )
    delete_resource(call, KIND, profile_id)
    return {}


@operation("ListStorageProfiles")
def list_storage_profiles(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    profiles, token = list_resources(call, KIND, params, farm_id=farm_id)
    return {"storageProfiles": profiles, "nextToken": token}


@operation("ListStorageProfilesForQueue")
def list_storage_profiles_for_queue(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    queue = require_queue(call.conn, farm_id, params["queueId"])
    allowed = list(queue.get("allowedStorageProfileIds") or [])
    profiles, token = list_resources(
        call, KIND, params, farm_id=farm_id, where=resources.c.resource_id.in_(allowed)
    )
    return {"storageProfiles": profiles, "nextToken": token}


@operation("GetStorageProfileForQueue")
def get_storage_profile_for_queue(call: Call, params: Params) -> Output:
    farm_id, profile_id = params["farmId"], params["storageProfileId"]
    queue = require_queue(call.conn, farm_id, params["queueId"])
    if profile_id not in (queue.get("allowedStorageProfileIds") or []):
        raise ResourceNotFoundError(
            "storage-profile",
            profile_id,
            f"Storage profile {profile_id} is not allowed on queue {params['queueId']}",
        )
    profile = require_storage_profile(call, farm_id, profile_id)
    return profile_for_queue(profile, queue.get("requiredFileSystemLocationNames") or [])
