"""Waiting for jobs: creation (`CREATE_COMPLETE`) and completion (a terminal task-run status)."""

from __future__ import annotations

import time
from collections.abc import Callable
from configparser import ConfigParser
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ...statuses import TERMINAL_TASK_RUN_STATUSES
from ..exceptions import CreateJobWaiterCanceled, DeadlineOperationError, DeadlineOperationTimedOut
from ._session import get_boto3_client, resolve_region

__all__ = [
    "FailedTask",
    "JobCompletionResult",
    "wait_for_create_job_to_complete",
    "wait_for_job_completion",
]

_CREATE_TIMEOUT_SECONDS = 300.0
_CREATE_FIRST_DELAY = 0.1
_CREATE_MAX_DELAY = 5.0
_FIRST_POLL_INTERVAL = 0.5


@dataclass
class FailedTask:
    step_id: str
    task_id: str
    step_name: str
    parameters: dict[str, Any]
    session_id: str | None = None


@dataclass
class JobCompletionResult:
    status: str
    failed_tasks: list[FailedTask]
    elapsed_time: float


def wait_for_create_job_to_complete(
    farm_id: str, queue_id: str, job_id: str, deadline_client: Any, continue_callback: Callable[[], Any]
) -> tuple[bool, str]:
    """Poll GetJob until it leaves CREATE_IN_PROGRESS: `(succeeded, lifecycleStatusMessage)`.

    The first GetJob goes out at once (a small job is usually created by then), then 0.1 s doubling
    up to 5 s; the AWS client always sleeps 0.3 s first.
    """
    delay = _CREATE_FIRST_DELAY
    started = time.monotonic()
    while time.monotonic() - started < _CREATE_TIMEOUT_SECONDS:
        if not continue_callback():
            raise CreateJobWaiterCanceled()
        job = deadline_client.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        status = job.get("lifecycleStatus") or job.get("state")
        message = job.get("lifecycleStatusMessage") or ""
        if status == "CREATE_IN_PROGRESS":
            time.sleep(delay)
            delay = min(2 * delay, _CREATE_MAX_DELAY)
            continue
        return status != "CREATE_FAILED", message
    raise TimeoutError(
        f"Timed out after {_CREATE_TIMEOUT_SECONDS:.0f} seconds while waiting for Job to be created: {job_id}"
    )


def _session_id_of(session_action_id: str | None) -> str | None:
    """`sessionaction-<x>-<n>` → `session-<x>`."""
    if not session_action_id or not session_action_id.startswith("sessionaction-"):
        return None
    body = session_action_id[len("sessionaction-") :]
    return "session-" + body.rsplit("-", 1)[0] if "-" in body else None


def _failed_tasks(client: Any, farm_id: str, queue_id: str, job_id: str) -> list[FailedTask]:
    failed: list[FailedTask] = []
    for steps_page in client.get_paginator("list_steps").paginate(
        farmId=farm_id, queueId=queue_id, jobId=job_id
    ):
        for step in steps_page.get("steps", []):
            if not step.get("taskRunStatusCounts", {}).get("FAILED", 0):
                continue
            pages = client.get_paginator("list_tasks").paginate(
                farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step["stepId"]
            )
            for tasks_page in pages:
                for task in tasks_page.get("tasks", []):
                    if task.get("runStatus") != "FAILED":
                        continue
                    failed.append(
                        FailedTask(
                            step_id=step["stepId"],
                            task_id=task["taskId"],
                            step_name=step.get("name", ""),
                            parameters=task.get("parameters", {}),
                            session_id=_session_id_of(task.get("latestSessionActionId")),
                        )
                    )
    return failed


def wait_for_job_completion(
    farm_id: str,
    queue_id: str,
    job_id: str,
    max_poll_interval: float = 120,
    timeout: float = 0,
    config: ConfigParser | None = None,
    status_callback: Callable[[str, float, float], Any] | None = None,
    job_callback: Callable[[dict[str, Any], float, float], Any] | None = None,
) -> JobCompletionResult:
    """Poll GetJob (0.5 s doubling up to `max_poll_interval`) until the job's status is terminal."""
    client = get_boto3_client("deadline", config, resolve_region(config, farm_id=farm_id))
    started = time.monotonic()
    interval = _FIRST_POLL_INTERVAL
    while True:
        elapsed = time.monotonic() - started
        if timeout > 0 and elapsed > timeout:
            raise DeadlineOperationTimedOut(
                f"Timeout waiting for job {job_id} to complete after {elapsed:.1f} seconds"
            )
        try:
            job = client.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        except ClientError as error:
            raise DeadlineOperationError(f"Failed to get job status: {error}") from error
        status = job.get("taskRunStatus") or ""
        if status_callback is not None:
            status_callback(status, elapsed, timeout)
        if job_callback is not None:
            job_callback(job, elapsed, timeout)
        if status in TERMINAL_TASK_RUN_STATUSES:
            break
        sleep_for = min(interval, max_poll_interval)
        if timeout > 0:
            sleep_for = max(0.0, min(sleep_for, timeout - elapsed + 0.01))
        time.sleep(sleep_for)
        interval = min(interval * 2, max_poll_interval)
    failed: list[FailedTask] = []
    if status != "SUCCEEDED":
        try:
            failed = _failed_tasks(client, farm_id, queue_id, job_id)
        except ClientError as error:
            raise DeadlineOperationError(f"Failed to retrieve failed tasks: {error}") from error
    return JobCompletionResult(status=status, failed_tasks=failed, elapsed_time=time.monotonic() - started)
