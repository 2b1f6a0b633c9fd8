"""Predicates that find tasks through the (step id, task index) primary key.

Task ids are derived from their step and index (`task-<step hex>-<index>`), so the tasks table
keeps no index on the id text: a million-task job writes two ordered indexes instead of four,
one of them scattered. Every lookup by task id or by job goes through these helpers, which
turn it into an index range on `(step_id, ...)`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, false, or_, select

from .._ids import task_key
from ._jobs_schema import steps, tasks


def task_is(task_id: str) -> ColumnElement[bool]:
    """The one task with this id (matches nothing when the id is not a task id)."""
    key = task_key(task_id)
    if key is None:
        return false()
    return and_(tasks.c.step_id == key[0], tasks.c.task_index == key[1])


def tasks_in(task_ids: Iterable[str]) -> ColumnElement[bool]:
    """The tasks with these ids, grouped by step so each group is one index range."""
    by_step: dict[str, list[int]] = defaultdict(list)
    for task_id in task_ids:
        key = task_key(task_id)
        if key is not None:
            by_step[key[0]].append(key[1])
    if not by_step:
        return false()
    return or_(
        *(
            and_(tasks.c.step_id == step_id, tasks.c.task_index.in_(indexes))
            for step_id, indexes in by_step.items()
        )
    )


def tasks_of_job(job_id: str) -> ColumnElement[bool]:
    """All tasks of a job, reached through its steps (the job's rows are contiguous per step)."""
    return tasks.c.step_id.in_(select(steps.c.step_id).where(steps.c.job_id == job_id))
