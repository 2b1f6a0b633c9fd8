"""Rows of the job tables as the API's output shapes (Get, List, BatchGet and Search forms)."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Table, select

from ..protocol import service_model
from ..store import TASK_RUN_STATUSES, count_column, step_dependencies, steps


def status_counts(row: Any) -> dict[str, int]:
    """All twelve statuses, zeros included (the CLI indexes the map directly)."""
    mapping = row._mapping
    return {s: int(mapping[count_column(s)] or 0) for s in TASK_RUN_STATUSES}


def column_of(member: str) -> str:
    """The column that stores a shape member: `fooBar` in `foo_bar`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", member).lower()


@functools.cache
def _members(shape_name: str) -> tuple[tuple[str, str], ...]:
    """(member, column) for each member of a shape."""
    shape: Any = service_model("deadline").shape_for(shape_name)
    return tuple((member, column_of(member)) for member in shape.members)


@functools.cache
def _stored_members(shape_name: str, table: Table) -> tuple[tuple[str, str], ...]:
    """(member, column) for each member of a request shape that `table` stores by its name (members
    taken from the URI or a header name the row; they are not written from the body)."""
    shape: Any = service_model("deadline").shape_for(shape_name)
    return tuple(
        (member, column_of(member))
        for member, member_shape in shape.members.items()
        if not member_shape.serialization.get("location") and column_of(member) in table.c
    )


def columns_from_request(
    shape_name: str, params: dict[str, Any], table: Table, *, given_only: bool = False
) -> dict[str, Any]:
    """The values of a request's members that `table` stores, keyed by column (None for members not
    given, unless `given_only`)."""
    return {
        column: params.get(member)
        for member, column in _stored_members(shape_name, table)
        if not given_only or member in params
    }


def from_row(shape_name: str, row: Any, **computed: Any) -> dict[str, Any]:
    """The members of `shape_name` a row holds, plus those computed by the caller; absent ones
    (None) are left out, as the service leaves them out."""
    mapping = row._mapping
    out: dict[str, Any] = {}
    for member, column in _members(shape_name):
        value = computed[member] if member in computed else mapping.get(column)
        if value is not None:
            out[member] = value
    return out


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
