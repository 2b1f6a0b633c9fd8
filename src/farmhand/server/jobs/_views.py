"""Rows of the job tables as the API's output shapes (Get, List, BatchGet and Search forms)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from .._shape_rows import from_row
from ..store import TASK_RUN_STATUSES, count_column, step_dependencies, steps


def status_counts(row: Any) -> dict[str, int]:
    """All twelve statuses, zeros included (the CLI indexes the map directly)."""
    mapping = row._mapping
    return {s: int(mapping[count_column(s)] or 0) for s in TASK_RUN_STATUSES}


def job_summary(row: Any) -> dict[str, Any]:
    """ListJobs' JobSummary."""
    return from_row("JobSummary", row, taskRunStatusCounts=status_counts(row))


def job_details(row: Any) -> dict[str, Any]:
    """GetJob (and, with the ids, BatchGetJob)."""
    return from_row(
        "GetJobResponse", row, taskRunStatusCounts=status_counts(row), parameters=row.parameters or None
    )


def job_search_summary(row: Any) -> dict[str, Any]:
    return from_row(
        "JobSearchSummary", row, taskRunStatusCounts=status_counts(row), jobParameters=row.parameters or None
    )


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
    return from_row("StepSummary", row, taskRunStatusCounts=status_counts(row), dependencyCounts=dependencies)


def step_details(row: Any, dependencies: dict[str, int] | None) -> dict[str, Any]:
    return from_row(
        "GetStepResponse", row, taskRunStatusCounts=status_counts(row), dependencyCounts=dependencies
    )


def step_search_summary(row: Any) -> dict[str, Any]:
    return from_row("StepSearchSummary", row, taskRunStatusCounts=status_counts(row))


def task_details(row: Any, created_by: str) -> dict[str, Any]:
    """GetTask, ListTasks' TaskSummary (the same members) and, with the ids, BatchGetTask."""
    return from_row("GetTaskResponse", row, createdBy=created_by, parameters=row.parameters or None)


def task_search_summary(row: Any) -> dict[str, Any]:
    return from_row("TaskSearchSummary", row, parameters=row.parameters or None)


def with_ids(item: dict[str, Any], **ids: str) -> dict[str, Any]:
    return {**ids, **item}
