"""The awslogs log configurations the farm hands out (spec §6)."""

from __future__ import annotations

from typing import Any


def worker_log(farm_id: str, fleet_id: str, worker_id: str) -> dict[str, Any]:
    """Where a worker ships its own log: group `/aws/deadline/<farmId>/<fleetId>`, stream `<workerId>`."""
    return {
        "logDriver": "awslogs",
        "options": {"logGroupName": f"/aws/deadline/{farm_id}/{fleet_id}", "logStreamName": worker_id},
        "parameters": {},
    }


def session_log_group(farm_id: str, queue_id: str) -> str:
    return f"/aws/deadline/{farm_id}/{queue_id}"


def session_log(farm_id: str, queue_id: str, session_id: str) -> dict[str, Any]:
    """Where a session's output goes: group `/aws/deadline/<farmId>/<queueId>`, stream `<sessionId>`."""
    return {
        "logDriver": "awslogs",
        "options": {"logGroupName": session_log_group(farm_id, queue_id), "logStreamName": session_id},
        "parameters": {},
    }
