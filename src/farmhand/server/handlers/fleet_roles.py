"""Credentials for workers: the fleet role (the worker's own identity) and its queues' roles (spec §7)."""

from __future__ import annotations

import datetime as dt

from ...arns import arn
from .._identity import ensure_principal, mint_temporary_credentials
from .._scopes import fleet_worker_scope
from ..protocol import ConflictError
from ..worker_plane import ONLINE_WORKER_STATUSES, queue_role_arn, require_worker, status_conflict
from ._registry import Call, Output, Params, operation
from .queue_roles import issue_queue_credentials
from .queues import require_queue

FLEET_CREDENTIALS_LIFETIME = dt.timedelta(hours=2)


@operation("AssumeFleetRoleForWorker", writes=True)
def assume_fleet_role_for_worker(call: Call, params: Params) -> Output:
    """Accepted when signed by the bootstrap identity or by the worker's previous fleet credentials."""
    farm_id, fleet_id, worker_id = params["farmId"], params["fleetId"], params["workerId"]
    require_worker(call.conn, farm_id, fleet_id, worker_id)
    principal_id = f"fleetrole-{worker_id}"
    role_arn = arn("sts", f"assumed-role/farmhand-fleet-{fleet_id}/{worker_id}", account=call.account_id)
    ensure_principal(call.conn, principal_id, role_arn, "fleet-role", f"fleet role of {worker_id}")
    scope = fleet_worker_scope(farm_id, fleet_id, worker_id)
    call.hints.quiet = True
    return {
        "credentials": mint_temporary_credentials(call.conn, principal_id, scope, FLEET_CREDENTIALS_LIFETIME)
    }


@operation("AssumeQueueRoleForWorker", writes=True)
def assume_queue_role_for_worker(call: Call, params: Params) -> Output:
    """Queue credentials for a working worker; an empty answer when the queue has no role."""
    farm_id, fleet_id, worker_id, queue_id = (
        params["farmId"],
        params["fleetId"],
        params["workerId"],
        params["queueId"],
    )
    worker = require_worker(call.conn, farm_id, fleet_id, worker_id)
    call.hints.quiet = True
    if worker.status not in (*ONLINE_WORKER_STATUSES, "STOPPING"):
        raise status_conflict(worker_id, worker.status, f"Worker {worker_id} is {worker.status}")
    queue = require_queue(call.conn, farm_id, queue_id)
    if queue_role_arn(queue, call.account_id) is None:
        return {}
    if queue.get("status") == "SCHEDULING_BLOCKED":
        raise ConflictError(
            f"Queue {queue_id} is blocked",
            reason="STATUS_CONFLICT",
            resource_type="queue",
            resource_id=queue_id,
        )
    return {"credentials": issue_queue_credentials(call, queue, "worker")}
