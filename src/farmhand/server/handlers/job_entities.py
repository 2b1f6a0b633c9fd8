"""BatchGetJobEntity: job, step, environment and attachment details for a worker (see worker_plane)."""

from __future__ import annotations

from ..worker_plane import get_job_entities, require_worker
from ._registry import Call, Output, Params, operation


@operation("BatchGetJobEntity")
def batch_get_job_entity(call: Call, params: Params) -> Output:
    require_worker(call.conn, params["farmId"], params["fleetId"], params["workerId"])
    return get_job_entities(
        call.conn, params["farmId"], params["fleetId"], params["identifiers"], call.account_id
    )
