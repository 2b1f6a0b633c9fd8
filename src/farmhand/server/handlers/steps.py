"""Steps: reads, dependency lists and UpdateStep."""

from __future__ import annotations

from sqlalchemy import and_, select

from ..jobs import (
    dependency_counts,
    require_job,
    require_step,
    step_details,
    step_summary,
    update_step,
    with_ids,
)
from ..protocol import ServiceError
from ..store import step_dependencies, steps
from ._common import page
from ._registry import Call, Output, Params, operation


@operation("GetStep")
def get_step(call: Call, params: Params) -> Output:
    row = require_step(call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"])
    return step_details(row, dependency_counts(call.conn, row.job_id).get(row.step_id))


@operation("ListSteps")
def list_steps(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    stmt = select(steps).where(steps.c.job_id == job.job_id)
    rows, token = page(call.conn, stmt, [steps.c.step_index, steps.c.step_id], params)
    counts = dependency_counts(call.conn, job.job_id)
    return {"steps": [step_summary(r, counts.get(r.step_id)) for r in rows], "nextToken": token}


@operation("BatchGetStep")
def batch_get_step(call: Call, params: Params) -> Output:
    found, errors = [], []
    for ident in params["identifiers"]:
        ids = {k: ident[k] for k in ("farmId", "queueId", "jobId", "stepId")}
        try:
            row = require_step(call.conn, ident["farmId"], ident["queueId"], ident["jobId"], ident["stepId"])
        except ServiceError as error:
            errors.append({**ids, "code": error.code, "message": error.message})
            continue
        counts = dependency_counts(call.conn, row.job_id).get(row.step_id)
        found.append(with_ids(step_details(row, counts), **ids))
    return {"steps": found, "errors": errors}


def _resolved_steps(call: Call, job_id: str) -> dict[str, bool]:
    return {
        r.step_id: r.task_count > 0 and r.count_succeeded == r.task_count
        for r in call.conn.execute(
            select(steps.c.step_id, steps.c.task_count, steps.c.count_succeeded).where(
                steps.c.job_id == job_id
            )
        )
    }


@operation("ListStepDependencies")
def list_step_dependencies(call: Call, params: Params) -> Output:
    """The steps this step waits for; RESOLVED once every task of the upstream step SUCCEEDED."""
    step = require_step(call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"])
    resolved = _resolved_steps(call, step.job_id)
    stmt = select(step_dependencies).where(step_dependencies.c.step_id == step.step_id)
    rows, token = page(call.conn, stmt, [step_dependencies.c.depends_on_step_id], params, default_size=1000)
    items = [
        {
            "stepId": r.depends_on_step_id,
            "status": "RESOLVED" if resolved.get(r.depends_on_step_id) else "UNRESOLVED",
        }
        for r in rows
    ]
    return {"dependencies": items, "nextToken": token}


@operation("ListStepConsumers")
def list_step_consumers(call: Call, params: Params) -> Output:
    """The steps waiting for this one; RESOLVED once every task of this step SUCCEEDED."""
    step = require_step(call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"])
    done = _resolved_steps(call, step.job_id).get(step.step_id, False)
    stmt = select(step_dependencies).where(
        and_(
            step_dependencies.c.depends_on_step_id == step.step_id, step_dependencies.c.job_id == step.job_id
        )
    )
    rows, token = page(call.conn, stmt, [step_dependencies.c.step_id], params, default_size=1000)
    items = [{"stepId": r.step_id, "status": "RESOLVED" if done else "UNRESOLVED"} for r in rows]
    return {"consumers": items, "nextToken": token}


@operation("UpdateStep")
def update_step_op(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    step = require_step(call.conn, params["farmId"], params["queueId"], params["jobId"], params["stepId"])
    update_step(call.conn, job, step, params["targetTaskRunStatus"], now=call.now, by=call.principal.arn)
    return {}
