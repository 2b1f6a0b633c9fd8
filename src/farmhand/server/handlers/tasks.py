"""Tasks: reads and UpdateTask / BatchUpdateTask."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from ..jobs import require_job, require_step, require_task, task_details, update_tasks, with_ids
from ..protocol import ServiceError
from ..store import tasks
from ._common import page
from ._registry import Call, Output, Params, operation


@operation("GetTask")
def get_task(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    row = require_task(
        call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"], params["taskId"]
    )
    return task_details(row, job.created_by)


@operation("ListTasks")
def list_tasks(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    step = require_step(call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"])
    stmt = select(tasks).where(tasks.c.step_id == step.step_id)
    rows, token = page(call.conn, stmt, [tasks.c.task_index], params)
    return {"tasks": [task_details(r, job.created_by) for r in rows], "nextToken": token}


@operation("BatchGetTask")
def batch_get_task(call: Call, params: Params) -> Output:
    found, errors = [], []
    for ident in params["identifiers"]:
        ids = {k: ident[k] for k in ("farmId", "queueId", "jobId", "stepId", "taskId")}
        try:
            job = require_job(call.conn, ident["farmId"], ident["queueId"], ident["jobId"])
            row = require_task(call.conn, *ids.values())
        except ServiceError as error:
            errors.append({**ids, "code": error.code, "message": error.message})
            continue
        found.append(with_ids(task_details(row, job.created_by), **ids))
    return {"tasks": found, "errors": errors}


@operation("UpdateTask")
def update_task(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    require_task(
        call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"], params["taskId"]
    )
    update_tasks(
        call.conn, job, [params["taskId"]], params["targetRunStatus"], now=call.now, by=call.principal.arn
    )
    return {}


@operation("BatchUpdateTask")
def batch_update_task(call: Call, params: Params) -> Output:
    """Items are checked one by one; the valid ones are applied per job and target in one pass."""
    errors = []
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    jobs_by_id: dict[str, Any] = {}
    for item in params["tasks"]:
        ids = {k: item[k] for k in ("farmId", "queueId", "jobId", "stepId", "taskId")}
        try:
            job = require_job(call.conn, item["farmId"], item["queueId"], item["jobId"])
            require_task(call.conn, *ids.values())
        except ServiceError as error:
            errors.append({**ids, "code": error.code, "message": error.message})
            continue
        jobs_by_id[job.job_id] = job
        grouped[(job.job_id, item["targetRunStatus"])].append(item["taskId"])
    for (job_id, target), task_ids in grouped.items():
        try:
            update_tasks(call.conn, jobs_by_id[job_id], task_ids, target, now=call.now, by=call.principal.arn)
        except ServiceError as error:
            job = jobs_by_id[job_id]
            for item in params["tasks"]:
                if item["jobId"] == job_id and item["taskId"] in task_ids:
                    ids = {k: item[k] for k in ("farmId", "queueId", "jobId", "stepId", "taskId")}
                    errors.append({**ids, "code": error.code, "message": error.message})
    return {"errors": errors}
