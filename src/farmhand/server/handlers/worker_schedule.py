"""UpdateWorkerSchedule: the worker heartbeat, its reports and its assignments (see worker_plane)."""

from __future__ import annotations

from ..worker_plane import ScheduleSettings, requested_wait, update_worker_schedule, worker_timeout_seconds
from ._registry import Call, Output, Params, operation


@operation("UpdateWorkerSchedule")
def update_schedule(call: Call, params: Params) -> Output:
    config = call.runtime.config
    settings = ScheduleSettings(
        failure_cap=config.worker_failure_cap, idle_interval=config.idle_update_interval_seconds
    )
    result = update_worker_schedule(
        call.conn,
        farm_id=params["farmId"],
        fleet_id=params["fleetId"],
        worker_id=params["workerId"],
        updates=params.get("updatedSessionActions") or {},
        now=call.now,
        settings=settings,
        by=call.principal.arn,
    )
    call.hints.quiet = not result.changed_work
    if result.dispatch_seconds:
        latencies = result.dispatch_seconds
        call.after_commit.append(lambda: call.runtime.metrics.observe_dispatch(latencies))
    if not result.output["assignedSessions"]:
        # Never hold a call past half the silence that makes a worker NOT_RESPONDING.
        wait = min(requested_wait(call.headers), worker_timeout_seconds(call.runtime) / 2)
        if wait > 0:
            call.hints.wait_for_work_seconds = wait
    return result.output
