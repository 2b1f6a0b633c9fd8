"""Finding jobs, steps and tasks by their API identifiers, and applying user updates to them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, and_, select, update

from .._shape_rows import columns_from_request
from ..protocol import ConflictError, ResourceNotFoundError, ValidationError
from ..store import jobs, steps, task_is, tasks
from ._transitions import request_tasks_status

UPDATE_SUCCEEDED_MESSAGE = "Job update succeeded"


def require_job(conn: Connection, farm_id: str, queue_id: str, job_id: str) -> Any:
    row = conn.execute(
        select(jobs).where(
            and_(jobs.c.job_id == job_id, jobs.c.farm_id == farm_id, jobs.c.queue_id == queue_id)
        )
    ).first()
    if row is None:
        raise ResourceNotFoundError("job", job_id)
    return row


def require_step(conn: Connection, farm_id: str, queue_id: str, job_id: str, step_id: str) -> Any:
    row = conn.execute(
        select(steps).where(
            and_(
                steps.c.step_id == step_id,
                steps.c.job_id == job_id,
                steps.c.farm_id == farm_id,
                steps.c.queue_id == queue_id,
            )
        )
    ).first()
    if row is None:
        raise ResourceNotFoundError("step", step_id)
    return row


def require_task(
    conn: Connection, farm_id: str, queue_id: str, job_id: str, step_id: str, task_id: str
) -> Any:
    row = conn.execute(
        select(tasks).where(
            and_(
                task_is(task_id),
                tasks.c.step_id == step_id,
                tasks.c.job_id == job_id,
                tasks.c.farm_id == farm_id,
                tasks.c.queue_id == queue_id,
            )
        )
    ).first()
    if row is None:
        raise ResourceNotFoundError("task", task_id)
    return row


def require_modifiable(job: Any, *, changes_tasks: bool) -> None:
    """Archived jobs are read-only; task states cannot change while tasks are still being written."""
    if job.lifecycle_status == "ARCHIVED":
        raise ConflictError(
            f"Job {job.job_id} is archived and cannot be modified",
            reason="STATUS_CONFLICT",
            resource_type="job",
            resource_id=job.job_id,
            context={"lifecycleStatus": "ARCHIVED"},
        )
    if changes_tasks and job.lifecycle_status in ("CREATE_IN_PROGRESS", "CREATE_FAILED"):
        raise ConflictError(
            f"Job {job.job_id} is {job.lifecycle_status}: its tasks cannot change",
            reason="STATUS_CONFLICT",
            resource_type="job",
            resource_id=job.job_id,
            context={"lifecycleStatus": str(job.lifecycle_status)},
        )


def check_max_worker_count(value: int | None) -> None:
    if value is not None and (value == 0 or value < -1):
        raise ValidationError.for_field("maxWorkerCount", "must be -1 (unlimited) or a positive number")


def update_job(conn: Connection, job: Any, params: dict[str, Any], *, now: dt.datetime, by: str) -> None:
    """UpdateJob / one BatchUpdateJob item, on an already-found job row."""
    target = params.get("targetTaskRunStatus")
    archive = params.get("lifecycleStatus") == "ARCHIVED"
    require_modifiable(job, changes_tasks=target is not None or archive)
    check_max_worker_count(params.get("maxWorkerCount"))
    values: dict[str, Any] = {
        **columns_from_request("UpdateJobRequest", params, jobs, given_only=True),
        "updated_at": now,
        "updated_by": by,
    }
    if target is not None:
        values["target_task_run_status"] = target
        request_tasks_status(conn, job.job_id, target, now=now, by=by)
    if archive:
        # An archived job never runs again: what has not finished is canceled first.
        request_tasks_status(conn, job.job_id, "CANCELED", now=now, by=by)
        values["lifecycle_status"] = "ARCHIVED"
        values["lifecycle_status_message"] = "Job archived"
    else:
        values["lifecycle_status"] = "UPDATE_SUCCEEDED"
        values["lifecycle_status_message"] = UPDATE_SUCCEEDED_MESSAGE
    conn.execute(update(jobs).where(jobs.c.job_id == job.job_id).values(**values))


def update_step(conn: Connection, job: Any, step: Any, target: str, *, now: dt.datetime, by: str) -> None:
    require_modifiable(job, changes_tasks=True)
    request_tasks_status(conn, job.job_id, target, now=now, by=by, step_id=step.step_id)
    conn.execute(
        update(steps)
        .where(steps.c.step_id == step.step_id)
        .values(target_task_run_status=target, updated_at=now, updated_by=by)
    )


def update_tasks(
    conn: Connection, job: Any, task_ids: list[str], target: str, *, now: dt.datetime, by: str
) -> None:
    require_modifiable(job, changes_tasks=True)
    request_tasks_status(conn, job.job_id, target, now=now, by=by, task_ids=task_ids)
