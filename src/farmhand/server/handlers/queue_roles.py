"""Queue-role credentials for users: temporary keys bound to one queue, accepted by this server."""

from __future__ import annotations

import hashlib

from .._identity import ensure_principal, mint_temporary_credentials
from ._registry import Call, Output, Params, operation
from .queues import require_queue


def queue_role_principal(call: Call, farm_id: str, queue_id: str, role: str) -> str:
    """The role principal `<caller>` assumes on a queue (one per caller, queue and role)."""
    caller = call.principal
    digest = hashlib.sha256(f"{queue_id}|{role}|{caller.principal_id}".encode()).hexdigest()[:40]
    principal_id = f"queuerole-{digest}"
    session_name = caller.arn.rsplit("/", 1)[-1] or caller.principal_id
    arn = f"arn:aws:sts::{call.account_id}:assumed-role/farmhand-queue-{queue_id}/{session_name}"
    ensure_principal(call.conn, principal_id, arn, "queue-role", f"{queue_id} {role} role for {session_name}")
    return principal_id


def _assume(call: Call, params: Params, role: str) -> Output:
    farm_id, queue_id = params["farmId"], params["queueId"]
    require_queue(call.conn, farm_id, queue_id)
    principal_id = queue_role_principal(call, farm_id, queue_id, role)
    scope = {"farmId": farm_id, "queueId": queue_id, "role": role}
    return {"credentials": mint_temporary_credentials(call.conn, principal_id, scope)}


@operation("AssumeQueueRoleForUser", writes=True)
def assume_queue_role_for_user(call: Call, params: Params) -> Output:
    return _assume(call, params, "user")


@operation("AssumeQueueRoleForRead", writes=True)
def assume_queue_role_for_read(call: Call, params: Params) -> Output:
    return _assume(call, params, "read")
