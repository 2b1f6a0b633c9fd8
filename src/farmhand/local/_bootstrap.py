"""Create the embedded farm's resources once, through the public API, and find them again on restart."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ..arns import arn

FARM_NAME = "Local Farm"
ATTACHMENTS_ROOT_PREFIX = "DeadlineCloud"
QUEUE_NAME = "Default"
FLEET_NAME = "Local Workers"
MAX_LOCAL_WORKERS = 256


@dataclass(frozen=True)
class FarmResources:
    farm_id: str
    queue_id: str
    fleet_id: str


def default_bucket_name(farm_id: str) -> str:
    """The embedded farm's job-attachments bucket, in its own object store.

    S3 reserves the `sthree-` prefix, so no AWS bucket can bear this name: the AWS client's
    "already uploaded" cache, keyed by bucket name only, never mixes the farm's objects with those
    of an AWS bucket of the same user.
    """
    return f"sthree-farmhand-{farm_id.split('-', 1)[1]}"


def ensure_farm_bucket(deadline: Any, s3: Any, farm_id: str, queue_id: str) -> None:
    """Give the queue a bucket in the farm's object store unless it has other job-attachment settings.

    Runs on every start, so farms made before the object store existed get one too; a queue whose
    settings someone changed is left alone.
    """
    settings = deadline.get_queue(farmId=farm_id, queueId=queue_id).get("jobAttachmentSettings")
    bucket = default_bucket_name(farm_id)
    if settings and settings["s3BucketName"] != bucket:
        return
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    if not settings:
        deadline.update_queue(
            farmId=farm_id,
            queueId=queue_id,
            jobAttachmentSettings={"s3BucketName": bucket, "rootPrefix": ATTACHMENTS_ROOT_PREFIX},
        )


def bootstrap_farm(
    deadline: Any, account_id: str, *, s3: Any = None, attachments_bucket: str | None = None
) -> FarmResources:
    """Idempotently ensure "Local Farm", queue "Default", fleet "Local Workers" and their association,
    and where the queue keeps job attachments: `attachments_bucket` (a bucket of an external store),
    else, given the farm's S3 client, a bucket of the farm's own store."""
    farm_id = _find(deadline.list_farms, "farms", "farmId")
    if farm_id is None:
        farm_id = deadline.create_farm(
            displayName=FARM_NAME, description="The embedded farm started by `farmhand up`."
        )["farmId"]
    queue_id = _find(deadline.list_queues, "queues", "queueId", farmId=farm_id, name=QUEUE_NAME)
    if queue_id is None:
        queue_id = deadline.create_queue(
            farmId=farm_id,
            displayName=QUEUE_NAME,
            description="Jobs submitted to the embedded farm.",
        )["queueId"]
    fleet_id = _find(deadline.list_fleets, "fleets", "fleetId", farmId=farm_id, name=FLEET_NAME)
    wanted = _customer_managed_configuration()
    if fleet_id is not None:
        fleet = deadline.get_fleet(farmId=farm_id, fleetId=fleet_id)
        declared = (fleet.get("configuration") or {}).get("customerManaged", {}).get("workerCapabilities")
        if declared != wanted["workerCapabilities"]:  # another machine, or a farm from before
            deadline.update_fleet(farmId=farm_id, fleetId=fleet_id, configuration={"customerManaged": wanted})
    else:
        fleet_id = deadline.create_fleet(
            farmId=farm_id,
            displayName=FLEET_NAME,
            description="Workers started on this machine by `farmhand up`.",
            roleArn=arn("iam", "role/farmhand-local-workers", account=account_id),
            minWorkerCount=0,
            maxWorkerCount=MAX_LOCAL_WORKERS,
            configuration={"customerManaged": wanted},
        )["fleetId"]
    associations = deadline.list_queue_fleet_associations(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    if not associations.get("queueFleetAssociations"):
        deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    elif associations["queueFleetAssociations"][0]["status"] != "ACTIVE":
        deadline.update_queue_fleet_association(
            farmId=farm_id, queueId=queue_id, fleetId=fleet_id, status="ACTIVE"
        )
    if attachments_bucket:
        # A prefix of the queue's own: other farms may share the store's bucket.
        settings = {"s3BucketName": attachments_bucket, "rootPrefix": queue_id}
        if deadline.get_queue(farmId=farm_id, queueId=queue_id).get("jobAttachmentSettings") != settings:
            deadline.update_queue(farmId=farm_id, queueId=queue_id, jobAttachmentSettings=settings)
    elif s3 is not None:
        ensure_farm_bucket(deadline, s3, farm_id, queue_id)
    return FarmResources(farm_id=farm_id, queue_id=queue_id, fleet_id=fleet_id)


def _find(list_call: Any, key: str, id_key: str, *, name: str = FARM_NAME, **params: Any) -> str | None:
    """The id of the oldest resource with this display name, following every page."""
    matches: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = list_call(**params, **({"nextToken": token} if token else {}))
        matches += [item for item in page.get(key, []) if item.get("displayName") == name]
        token = page.get("nextToken")
        if not token:
            break
    if not matches:
        return None
    matches.sort(key=lambda item: str(item.get("createdAt", "")))
    return str(matches[0][id_key])


def _customer_managed_configuration() -> dict[str, Any]:
    """The capabilities of this machine, which every local worker reports: the fleet declares exactly
    them, so a step's host requirements are judged as Deadline Cloud judges them against a fleet
    (compatible when this machine meets them, NOT_COMPATIBLE otherwise)."""
    from farmhand.worker import host_capabilities

    reported = host_capabilities()
    amounts = {a["name"]: int(a["value"]) for a in reported["amounts"]}
    attributes = {a["name"]: a["values"][0] for a in reported["attributes"]}
    vcpus, memory = amounts["amount.worker.vcpu"], amounts["amount.worker.memory"]
    return {
        "mode": "NO_SCALING",
        "workerCapabilities": {
            "vCpuCount": {"min": vcpus, "max": vcpus},
            "memoryMiB": {"min": memory, "max": memory},
            "osFamily": attributes["attr.worker.os.family"].upper(),
            "cpuArchitectureType": attributes["attr.worker.cpu.arch"],
        },
    }
