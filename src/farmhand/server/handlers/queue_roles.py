"""Role credentials users assume: a queue's user and read roles, and a fleet's read role.

Each is a temporary key pair bound to its queue or fleet (the scope the server enforces on every
call signed with it). The farm mints them, except for a queue whose bucket lives in an external
object store: that store's STS issues them (limited to the queue's prefix) and the farm records
them, so the same credentials work for the store, the farm's APIs and its STS.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ...arns import arn
from .._identity import ensure_principal, mint_temporary_credentials, record_temporary_credentials
from .._ids import hex_of
from .._scopes import fleet_read_scope, queue_role_scope, s3_scope_of
from ..buckets import BucketStoreError
from ..protocol import InternalServerError
from ._registry import Call, Output, Params, operation
from .fleets import require_fleet
from .queues import require_queue


def role_principal(call: Call, role_name: str, kind: str, variant: str = "") -> str:
    """The role principal the caller becomes (one per caller, role and variant), made on first use."""
    caller = call.principal
    digest = hashlib.sha256(f"{role_name}|{variant}|{caller.principal_id}".encode()).hexdigest()[:40]
    principal_id = f"role-{digest}"
    session_name = caller.arn.rsplit("/", 1)[-1] or caller.principal_id
    role_arn = arn("sts", f"assumed-role/{role_name}/{session_name}", account=call.account_id)
    ensure_principal(call.conn, principal_id, role_arn, kind, f"{role_name} for {session_name}")
    return principal_id


def queue_role_principal(call: Call, farm_id: str, queue_id: str, role: str) -> str:
    """The principal the caller becomes on a queue's role (`user`, `read`, or a worker's `worker`)."""
    role_name = f"farmhand-queue-{queue_id}-read" if role == "read" else f"farmhand-queue-{queue_id}"
    return role_principal(call, role_name, "queue-role", variant=role)


def issue_queue_credentials(call: Call, queue: dict[str, Any], role: str) -> dict[str, Any]:
    """Credentials of a queue role (`user`, `read`, `worker`) for the caller, in `AwsCredentials` form."""
    farm_id, queue_id = queue["farmId"], queue["queueId"]
    principal_id = queue_role_principal(call, farm_id, queue_id, role)
    scope = queue_role_scope(queue, role)
    s3 = s3_scope_of(scope)
    store = call.runtime.buckets.external_store(s3["bucket"]) if s3 else None
    if store is None or s3 is None:
        return mint_temporary_credentials(call.conn, principal_id, scope)
    try:
        issued = store.issue_queue_credentials(
            s3["bucket"], s3["prefix"], s3["access"], f"farmhand-{role}-{hex_of(queue_id)[16:]}"
        )
    except BucketStoreError as exc:
        raise InternalServerError(f"Queue credentials are unavailable: {exc}") from exc
    # STS GetCallerIdentity answers the store's account for them: x-amz-expected-bucket-owner is
    # compared with it by the store.
    scope.update(store=store.name, account=issued.account)
    return record_temporary_credentials(
        call.conn,
        principal_id,
        scope,
        access_key_id=issued.access_key_id,
        secret_access_key=issued.secret_access_key,
        session_token=issued.session_token,
        expires=issued.expiration,
    )


def _assume_queue_role(call: Call, params: Params, role: str) -> Output:
    queue = require_queue(call.conn, params["farmId"], params["queueId"])
    return {"credentials": issue_queue_credentials(call, queue, role)}


@operation("AssumeQueueRoleForUser", writes=True)
def assume_queue_role_for_user(call: Call, params: Params) -> Output:
    return _assume_queue_role(call, params, "user")


@operation("AssumeQueueRoleForRead", writes=True)
def assume_queue_role_for_read(call: Call, params: Params) -> Output:
    return _assume_queue_role(call, params, "read")


@operation("AssumeFleetRoleForRead", writes=True)
def assume_fleet_role_for_read(call: Call, params: Params) -> Output:
    """Read access to one fleet (e.g. its workers' logs), for monitors and CLIs."""
    farm_id, fleet_id = params["farmId"], params["fleetId"]
    require_fleet(call.conn, farm_id, fleet_id)
    principal_id = role_principal(call, f"farmhand-fleet-{fleet_id}-read", "fleet-role")
    scope = fleet_read_scope(farm_id, fleet_id)
    return {"credentials": mint_temporary_credentials(call.conn, principal_id, scope)}
