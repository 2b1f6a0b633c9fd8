"""Rows of the job tables as the API's output shapes (Get, List, BatchGet and Search forms)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from ..store import TASK_RUN_STATUSES, count_column, step_dependencies, steps


def status_counts(row: Any) -> dict[str, int]:
    """All twelve statuses, zeros included (the CLI indexes the map directly)."""
    mapping = row._mapping
    return {s: int(mapping[count_column(s)] or 0) for s in TASK_RUN_STATUSES}


def _set(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def job_summary(row: Any) -> dict[str, Any]:
    """ListJobs' JobSummary."""
    out: dict[str, Any] = {
        "jobId": row.job_id,
        "name": row.name,
        "lifecycleStatus": row.lifecycle_status,
        "lifecycleStatusMessage": row.lifecycle_status_message,
        "priority": row.priority,
        "createdAt": row.created_at,
        "createdBy": row.created_by,
        "taskRunStatus": row.task_run_status,
        "taskRunStatusCounts": status_counts(row),
        "taskFailureRetryCount": row.task_failure_retry_count,
    }
    for key, value in (
        ("updatedAt", row.updated_at),
        ("updatedBy", row.updated_by),
        ("startedAt", row.started_at),
        ("endedAt", row.ended_at),
        ("targetTaskRunStatus", row.target_task_run_status),
        ("maxFailedTasksCount", row.max_failed_tasks_count),
        ("maxRetriesPerTask", row.max_retries_per_task),
        ("maxWorkerCount", row.max_worker_count),
        ("sourceJobId", row.source_job_id),
    ):
        _set(out, key, value)
    return out


def job_details(row: Any) -> dict[str, Any]:
    """GetJob (and, with the ids, BatchGetJob)."""
    out = job_summary(row)
    _set(out, "storageProfileId", row.storage_profile_id)
    _set(out, "parameters", row.parameters or None)
    _set(out, "attachments", row.attachments)
    _set(out, "description", row.description)
    return out


def job_search_summary(row: Any) -> dict[str, Any]:
    out = job_summary(row)
    out["queueId"] = row.queue_id
    _set(out, "jobParameters", row.parameters or None)
    return out


def dependency_counts(conn: Connection, job_id: str) -> dict[str, dict[str, int]]:
    """Per step of a job: resolved/unresolved upstream and consumer counts."""
    succeeded = {
        r.step_id: r.task_count > 0 and r.count_succeeded == r.task_count
        for r in conn.execute(
            select(steps.c.step_id, steps.c.task_count, steps.c.count_succeeded).where(
                steps.c.job_id == job_id
            )
        )
    }
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {
            "dependenciesResolved": 0,
            "dependenciesUnresolved": 0,
            "consumersResolved": 0,
            "consumersUnresolved": 0,
        }
    )
    for dep in conn.execute(select(step_dependencies).where(step_dependencies.c.job_id == job_id)):
        resolved = succeeded.get(dep.depends_on_step_id, False)
        counts[dep.step_id]["dependenciesResolved" if resolved else "dependenciesUnresolved"] += 1
        counts[dep.depends_on_step_id]["consumersResolved" if resolved else "consumersUnresolved"] += 1
    return {sid: counts[sid] for sid in succeeded}


def step_summary(row: Any, dependencies: dict[str, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stepId": row.step_id,
        "name": row.name,
        "lifecycleStatus": row.lifecycle_status,
        "taskRunStatus": row.task_run_status,
        "taskRunStatusCounts": status_counts(row),
        "taskFailureRetryCount": row.task_failure_retry_count,
        "createdAt": row.created_at,
        "createdBy": row.created_by,
    }
    for key, value in (
        ("lifecycleStatusMessage", row.lifecycle_status_message),
        ("targetTaskRunStatus", row.target_task_run_status),
        ("updatedAt", row.updated_at),
        ("updatedBy", row.updated_by),
        ("startedAt", row.started_at),
        ("endedAt", row.ended_at),
        ("dependencyCounts", dependencies),
    ):
        _set(out, key, value)
    return out


def step_details(row: Any, dependencies: dict[str, int] | None) -> dict[str, Any]:
    out = step_summary(row, dependencies)
    _set(out, "requiredCapabilities", row.required_capabilities)
    _set(out, "parameterSpace", row.parameter_space)
    _set(out, "description", row.description)
    return out


def step_search_summary(row: Any) -> dict[str, Any]:
    out = step_summary(row, None)
    out["jobId"] = row.job_id
    out["queueId"] = row.queue_id
    _set(out, "parameterSpace", row.parameter_space)
    return out


def task_details(row: Any, created_by: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "taskId": row.task_id,
        "createdAt": row.created_at,
        "createdBy": created_by,
        "runStatus": row.run_status,
        "failureRetryCount": row.failure_retry_count,
    }
    for key, value in (
        ("targetRunStatus", row.target_run_status),
        ("startedAt", row.started_at),
        ("endedAt", row.ended_at),
        ("updatedAt", row.updated_at),
        ("updatedBy", row.updated_by),
        ("latestSessionActionId", row.latest_session_action_id),
        ("parameters", row.parameters or None),
    ):
        _set(out, key, value)
    return out


def task_search_summary(row: Any) -> dict[str, Any]:
    out = task_details(row, "")
    del out["createdAt"], out["createdBy"]
    out["stepId"] = row.step_id
    out["jobId"] = row.job_id
    out["queueId"] = row.queue_id
    return out


def with_ids(item: dict[str, Any], **ids: str) -> dict[str, Any]:
    return {**ids, **item}
