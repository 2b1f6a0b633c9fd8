"""Session and worker logs read back through the CloudWatch Logs API."""

from __future__ import annotations

from configparser import ConfigParser
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..exceptions import DeadlineOperationError
from ._session import get_boto3_client, get_boto3_session, get_user_and_identity_store_id, resolve_region

__all__ = [
    "LogEvent",
    "SessionLogResult",
    "WorkerLogResult",
    "choose_session_for_logs",
    "get_session_logs",
    "get_worker_logs",
]


@dataclass
class LogEvent:
    timestamp: datetime
    message: str
    ingestion_time: datetime | None = None
    event_id: str | None = None


@dataclass
class SessionLogResult:
    events: list[LogEvent]
    next_token: str | None
    log_group: str
    log_stream: str
    count: int


@dataclass
class WorkerLogResult:
    events: list[LogEvent]
    next_token: str | None
    log_group: str
    log_stream: str
    worker_id: str
    fleet_id: str
    count: int


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_milliseconds(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def _read_events(
    logs: Any,
    log_group: str,
    log_stream: str,
    limit: int,
    start_time: datetime | None,
    end_time: datetime | None,
    next_token: str | None,
    failure: str,
) -> tuple[list[LogEvent], str | None]:
    request: dict[str, Any] = {
        "logGroupName": log_group,
        "logStreamName": log_stream,
        "limit": limit,
        "startFromHead": False,
    }
    if next_token:
        request["nextToken"] = next_token
    if start_time is not None:
        request["startTime"] = _milliseconds(start_time)
    if end_time is not None:
        request["endTime"] = _milliseconds(end_time)
    try:
        response = logs.get_log_events(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return [], None
        raise DeadlineOperationError(f"{failure}: {error}") from error
    events = [
        LogEvent(
            timestamp=_from_milliseconds(event["timestamp"]) or datetime.now(UTC),
            message=str(event.get("message", "")).rstrip(),
            ingestion_time=_from_milliseconds(event.get("ingestionTime")),
            event_id=event.get("eventId"),
        )
        for event in response.get("events", [])
    ]
    return events, response.get("nextForwardToken")


def choose_session_for_logs(sessions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The most recently started ongoing session, else the most recently ended one."""
    ongoing = [s for s in sessions if not s.get("endedAt")]
    if ongoing:
        return max(ongoing, key=lambda s: s["startedAt"])
    return max(sessions, key=lambda s: s["endedAt"]) if sessions else None


def _pick_session(deadline: Any, farm_id: str, queue_id: str, job_id: str) -> str:
    try:
        sessions: list[dict[str, Any]] = []
        pages = deadline.get_paginator("list_sessions").paginate(
            farmId=farm_id, queueId=queue_id, jobId=job_id
        )
        for page in pages:
            sessions.extend(page.get("sessions", []))
    except ClientError as error:
        raise DeadlineOperationError(f"Failed to list sessions: {error}") from error
    chosen = choose_session_for_logs(sessions)
    if chosen is None:
        raise DeadlineOperationError(f"No sessions found for job {job_id}")
    return str(chosen["sessionId"])


def get_session_logs(
    farm_id: str,
    queue_id: str,
    session_id: str | None = None,
    job_id: str | None = None,
    limit: int = 100,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    next_token: str | None = None,
    config: ConfigParser | None = None,
) -> SessionLogResult:
    """Log events of a session (`/aws/deadline/<farm>/<queue>`, stream `<session>`), newest page first."""
    region = resolve_region(config, farm_id=farm_id)
    deadline = get_boto3_client("deadline", config, region)
    if not session_id:
        if not job_id:
            raise DeadlineOperationError("Either session_id or job_id must be provided")
        session_id = _pick_session(deadline, farm_id, queue_id, job_id)
    user_id, identity_store_id = get_user_and_identity_store_id(config)
    if user_id and identity_store_id:
        from ._queue_credentials import get_queue_user_boto3_session

        try:
            logs = get_queue_user_boto3_session(deadline, config, farm_id, queue_id).client("logs")
        except Exception as error:
            raise DeadlineOperationError(f"Failed to get queue credentials: {error}") from error
    else:
        logs = get_boto3_client("logs", config, region)
    log_group = f"/aws/deadline/{farm_id}/{queue_id}"
    events, token = _read_events(
        logs, log_group, session_id, limit, start_time, end_time, next_token, "Failed to retrieve logs"
    )
    return SessionLogResult(
        events=events, next_token=token, log_group=log_group, log_stream=session_id, count=len(events)
    )


def get_worker_logs(
    farm_id: str,
    fleet_id: str,
    worker_id: str,
    limit: int = 100,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    next_token: str | None = None,
    config: ConfigParser | None = None,
) -> WorkerLogResult:
    """Log events of a worker (`/aws/deadline/<farm>/<fleet>`, stream `<worker>`)."""
    region = resolve_region(config, farm_id=farm_id)
    user_id, identity_store_id = get_user_and_identity_store_id(config)
    if user_id and identity_store_id:
        try:
            deadline = get_boto3_client("deadline", config, region)
            credentials = deadline.assume_fleet_role_for_read(farmId=farm_id, fleetId=fleet_id)["credentials"]
            base = get_boto3_session(config=config)
            # Same profile as the caller so endpoint overrides in `[services]` still apply.
            fleet_session = boto3.Session(
                aws_access_key_id=credentials["accessKeyId"],
                aws_secret_access_key=credentials["secretAccessKey"],
                aws_session_token=credentials["sessionToken"],
                region_name=region or base.region_name,
                botocore_session=None,
            )
            logs = fleet_session.client(
                "logs", endpoint_url=get_boto3_client("logs", config, region).meta.endpoint_url
            )
        except Exception as error:
            raise DeadlineOperationError(f"Failed to get fleet credentials: {error}") from error
    else:
        logs = get_boto3_client("logs", config, region)
    log_group = f"/aws/deadline/{farm_id}/{fleet_id}"
    events, token = _read_events(
        logs, log_group, worker_id, limit, start_time, end_time, next_token, "Failed to retrieve worker logs"
    )
    return WorkerLogResult(
        events=events,
        next_token=token,
        log_group=log_group,
        log_stream=worker_id,
        worker_id=worker_id,
        fleet_id=fleet_id,
        count=len(events),
    )
