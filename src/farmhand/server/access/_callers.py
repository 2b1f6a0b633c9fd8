"""Who is calling, in the terms access decisions need: the kind of credentials and what they are bound to.

Users sign with their own keys and act through memberships. Every other kind is temporary
credentials the farm minted, whose scope (written when they were minted) binds them to one queue,
one fleet or one worker. A scope this module does not recognise grants nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ADMIN_PRINCIPAL_ID = "admin"


class CallerKind(enum.Enum):
    ADMIN = "admin"
    USER = "user"
    QUEUE = "queue"  # AssumeQueueRoleForUser / ForWorker: one queue, read and submit
    QUEUE_READ = "queue-read"  # AssumeQueueRoleForRead: one queue, read only
    FLEET_READ = "fleet-read"  # AssumeFleetRoleForRead: one fleet, read only
    WORKER = "worker"  # AssumeFleetRoleForWorker: one worker's own calls
    NONE = "none"  # credentials whose scope grants nothing


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    principal_id: str
    arn: str
    farm_id: str | None = None
    queue_id: str | None = None
    fleet_id: str | None = None
    worker_id: str | None = None
    # Queue credentials' object-store reach: the queue's bucket, its job-attachment prefix, and
    # "read" or "readwrite" (see `_scopes.queue_role_scope`).
    s3: tuple[str, str, str] | None = None


def caller_of(principal_id: str, arn: str, kind: str, scope: Mapping[str, Any] | None) -> Caller:
    """Classify a signed request's principal (see `_identity.Principal`) by its key's scope."""
    if not scope:
        if kind != "user":
            return Caller(CallerKind.NONE, principal_id, arn)
        if principal_id == ADMIN_PRINCIPAL_ID:
            return Caller(CallerKind.ADMIN, principal_id, arn)
        return Caller(CallerKind.USER, principal_id, arn)
    role, farm = scope.get("role"), scope.get("farmId")
    queue, fleet, worker = scope.get("queueId"), scope.get("fleetId"), scope.get("workerId")
    if not isinstance(farm, str):
        return Caller(CallerKind.NONE, principal_id, arn)
    if isinstance(queue, str) and fleet is None and worker is None:
        s3 = _object_store_reach(scope.get("s3"))
        if role in ("user", "worker"):
            return Caller(CallerKind.QUEUE, principal_id, arn, farm, queue_id=queue, s3=s3)
        if role == "read":
            return Caller(CallerKind.QUEUE_READ, principal_id, arn, farm, queue_id=queue, s3=s3)
    if isinstance(fleet, str) and queue is None:
        if role == "read" and worker is None:
            return Caller(CallerKind.FLEET_READ, principal_id, arn, farm, fleet_id=fleet)
        if role == "fleet" and isinstance(worker, str):
            return Caller(CallerKind.WORKER, principal_id, arn, farm, fleet_id=fleet, worker_id=worker)
    return Caller(CallerKind.NONE, principal_id, arn)


def _object_store_reach(entry: Any) -> tuple[str, str, str] | None:
    if not isinstance(entry, Mapping):
        return None
    bucket, prefix, access = entry.get("bucket"), entry.get("prefix"), entry.get("access")
    if not (isinstance(bucket, str) and isinstance(prefix, str) and access in ("read", "readwrite")):
        return None
    return bucket, prefix, str(access)
