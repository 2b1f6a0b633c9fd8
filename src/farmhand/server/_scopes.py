"""What temporary credentials may reach: the scope written into each role key, and its checks.

Every key the farm mints or records for a role carries a scope (`access_keys.scope`). Deadline, Logs
and STS calls signed with it are checked by the access table (`farmhand.server.access`); the farm's
S3 endpoint authorises object requests against the `s3` entry a queue role's scope carries:
`{"bucket": NAME, "prefix": "ROOTPREFIX/", "access": "read" | "readwrite"}` — the queue's bucket,
only the keys under its root prefix (the job-attachments layout puts everything there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUEUE_ROLES = ("user", "worker", "read")

__all__ = [
    "QUEUE_ROLES",
    "fleet_read_scope",
    "fleet_worker_scope",
    "queue_role_scope",
    "s3_scope_of",
]


def queue_role_scope(queue: Mapping[str, Any], role: str) -> dict[str, Any]:
    """A queue role's scope: the queue, read-only for `read`, and the queue's job-attachment prefix.

    AssumeQueueRoleForRead may read and list there; ForUser and ForWorker may also write.
    """
    if role not in QUEUE_ROLES:
        raise ValueError(f"unknown queue role {role!r}")
    scope: dict[str, Any] = {"farmId": queue["farmId"], "queueId": queue["queueId"], "role": role}
    settings = queue.get("jobAttachmentSettings")
    if settings:
        scope["s3"] = {
            "bucket": settings["s3BucketName"],
            # Keys are "<rootPrefix>/Data/...", "<rootPrefix>/Manifests/...": never the bare prefix's
            # neighbours ("<rootPrefix>-other/...").
            "prefix": f"{settings['rootPrefix']}/",
            "access": "read" if role == "read" else "readwrite",
        }
    return scope


def fleet_worker_scope(farm_id: str, fleet_id: str, worker_id: str) -> dict[str, Any]:
    """A worker's own identity (AssumeFleetRoleForWorker): its farm and fleet, no object store."""
    return {"farmId": farm_id, "fleetId": fleet_id, "workerId": worker_id, "role": "fleet"}


def fleet_read_scope(farm_id: str, fleet_id: str) -> dict[str, Any]:
    """AssumeFleetRoleForRead: reading one fleet (its workers' logs, for monitors)."""
    return {"farmId": farm_id, "fleetId": fleet_id, "role": "read"}


def s3_scope_of(scope: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The object-store entry of a credential's scope, if it has one."""
    entry = (scope or {}).get("s3")
    return dict(entry) if isinstance(entry, Mapping) else None
