"""SearchJobs, SearchSteps, SearchTasks: filters, sorts and paging compiled to SQL (see jobs._search)."""

from __future__ import annotations

from ..jobs import (
    JOB_SEARCH,
    STEP_SEARCH,
    TASK_SEARCH,
    job_search_summary,
    queue_scope,
    search,
    step_search_summary,
    task_search_summary,
)
from ..store import jobs, steps, tasks
from ._registry import Call, Output, Params, operation


@operation("SearchJobs")
def search_jobs(call: Call, params: Params) -> Output:
    scope = queue_scope(jobs, params["farmId"], params["queueIds"], None)
    rows, total, following = search(call.conn, JOB_SEARCH, params, scope=scope)
    return {"jobs": [job_search_summary(r) for r in rows], "totalResults": total, "nextItemOffset": following}


@operation("SearchSteps")
def search_steps(call: Call, params: Params) -> Output:
    scope = queue_scope(steps, params["farmId"], params["queueIds"], params.get("jobId"))
    rows, total, following = search(call.conn, STEP_SEARCH, params, scope=scope)
    return {
        "steps": [step_search_summary(r) for r in rows],
        "totalResults": total,
        "nextItemOffset": following,
    }


@operation("SearchTasks")
def search_tasks(call: Call, params: Params) -> Output:
    scope = queue_scope(tasks, params["farmId"], params["queueIds"], params.get("jobId"))
    rows, total, following = search(call.conn, TASK_SEARCH, params, scope=scope)
    return {
        "tasks": [task_search_summary(r) for r in rows],
        "totalResults": total,
        "nextItemOffset": following,
    }
