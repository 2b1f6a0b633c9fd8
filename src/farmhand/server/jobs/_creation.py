"""Finishing the creation of large jobs, including those a stopped server left half-written.

CreateJob answers a large job once its job and step rows are committed; its tasks are written
after the answer (`_writer.write_tasks_later`). If the server stops meanwhile, the job is still
acknowledged: the next server to start finishes it. The template and the submitted parameters are
stored and instantiation is deterministic, so the job is planned again with the stored step ids;
the tasks already in the store (each step holds a prefix of its indexes, written in committed
chunks) are kept and only the rest is written. Only a job that cannot be planned the same way again
ends CREATE_FAILED, with the reason.

One writer per job, across every server on the database: the writer holds the store's exclusive
lock `job-creation:<job id>` (released if its process dies), and reads what is written only once it
holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select

from ..store import TASK_RUN_STATUSES, Store, count_column, jobs, steps, tasks, utcnow
from ._instantiate import JobPlan, load_document, plan_job
from ._writer import fail_creation, write_tasks_later

__all__ = ["finish_creation", "finish_interrupted_creations"]

log = logging.getLogger("farmhand.server.jobs")


class UnfinishableCreation(Exception):
    """The job cannot be written as it was planned at submission; the message says why."""


def finish_creation(store: Store, job_id: str, plan: JobPlan | None = None) -> str | None:
    """Write whatever tasks of a CREATE_IN_PROGRESS job are missing, then mark it CREATE_COMPLETE.

    `plan` is the job's plan when the caller has it (CreateJob); otherwise it is planned again from
    the stored template. Returns the job's lifecycle status afterwards, or None when another writer
    holds the job (it finishes it) or the job does not exist.
    """
    with store.exclusive(f"job-creation:{job_id}") as ours:
        if not ours:
            return None
        with store.read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
            if job is None:
                return None
            if job.lifecycle_status != "CREATE_IN_PROGRESS":
                return str(job.lifecycle_status)
            step_rows = list(
                conn.execute(select(steps).where(steps.c.job_id == job_id).order_by(steps.c.step_index))
            )
            last_index = {
                row.step_id: conn.execute(
                    select(func.max(tasks.c.task_index)).where(tasks.c.step_id == row.step_id)
                ).scalar()
                for row in step_rows
            }
        try:
            written = _tasks_written(step_rows, last_index)
            if plan is None:
                plan = _plan_again(job, step_rows)
            _check_same_steps(plan, step_rows, written)
        except UnfinishableCreation as error:
            log.warning("the creation of job %s cannot be finished: %s", job_id, error)
            with store.write() as conn:
                fail_creation(conn, job_id, f"The job could not be created: {error}", now=utcnow())
            return "CREATE_FAILED"
        write_tasks_later(
            store.write,
            plan,
            job_id=job_id,
            farm_id=str(job.farm_id),
            queue_id=str(job.queue_id),
            now=job.created_at,
            written=written,
        )
    with store.read() as conn:
        status = conn.execute(select(jobs.c.lifecycle_status).where(jobs.c.job_id == job_id)).scalar()
    return None if status is None else str(status)


def finish_interrupted_creations(store: Store) -> dict[str, str | None]:
    """Finish every job left CREATE_IN_PROGRESS (oldest first); returns each job's outcome.

    Run at server start, after the server is serving (it may take as long as writing the jobs did).
    A job another live server is still writing is left to it (outcome None).
    """
    with store.read() as conn:
        job_ids = [
            str(r.job_id)
            for r in conn.execute(
                select(jobs.c.job_id)
                .where(jobs.c.lifecycle_status == "CREATE_IN_PROGRESS")
                .order_by(jobs.c.created_at, jobs.c.job_id)
            )
        ]
    outcomes: dict[str, str | None] = {}
    for job_id in job_ids:
        log.info("finishing the creation of job %s, interrupted by a stop", job_id)
        try:
            outcomes[job_id] = finish_creation(store, job_id)
        except Exception:
            log.exception("finishing the creation of job %s failed", job_id)
            outcomes[job_id] = None
        else:
            log.info("job %s: %s", job_id, outcomes[job_id])
    return outcomes


def _tasks_written(step_rows: Sequence[Row[Any]], last_index: dict[str, int | None]) -> dict[str, int]:
    """Per step, how many of its first tasks are stored; the counters must agree with the keys."""
    written: dict[str, int] = {}
    for row in step_rows:
        last = last_index[row.step_id]
        stored = 0 if last is None else int(last) + 1
        counted = sum(int(getattr(row, count_column(s)) or 0) for s in TASK_RUN_STATUSES)
        if counted != stored:
            raise UnfinishableCreation(
                f"step {row.name} counts {counted} tasks but its task indexes run to {stored}"
            )
        written[str(row.step_id)] = stored
    return written


def _plan_again(job: Row[Any], step_rows: Sequence[Row[Any]]) -> JobPlan:
    """The job's plan from its stored template and parameters, with its stored step ids.

    Only the template's own parameters shape its tasks (queue environments cannot be referenced by
    its parameter spaces), so the plan is made without queue environments: a queue environment
    changed since the submission does not change the job.
    """
    try:
        document = load_document(str(job.template), str(job.template_type))
        definitions = [d for d in document.get("parameterDefinitions") or [] if isinstance(d, dict)]
        submitted = dict(job.parameters or {})
        resolved = dict(job.resolved_parameters or {})
        parameters: dict[str, Any] = {}
        for definition in definitions:
            name = str(definition.get("name"))
            if name in submitted:
                parameters[name] = submitted[name]
            elif "default" not in definition and name in resolved:
                parameters[name] = resolved[name]  # its default came from a queue environment
        stored_ids = iter([str(row.step_id) for row in step_rows])
        plan, _ = plan_job(
            job_id=str(job.job_id),
            template_text=str(job.template),
            template_type=str(job.template_type),
            parameters=parameters,
            queue_environments=[],
            new_step_id=lambda: next(stored_ids, "step-not-stored"),
            suspended=job.target_task_run_status == "SUSPENDED",
        )
    except Exception as error:
        text = getattr(error, "message", None) or str(error) or type(error).__name__
        raise UnfinishableCreation(f"its stored template no longer instantiates: {text}") from error
    for name, value in plan.resolved_parameters.items():
        if name in resolved and resolved[name] != value:
            raise UnfinishableCreation(f"its parameter {name} now resolves to {value}, not {resolved[name]}")
    return plan


def _check_same_steps(plan: JobPlan, step_rows: Sequence[Row[Any]], written: dict[str, int]) -> None:
    """The plan must have the stored steps, in order, with the stored task counts."""
    planned = [(s.step_id, s.name, s.task_count) for s in plan.steps]
    stored = [(str(r.step_id), str(r.name), int(r.task_count)) for r in step_rows]
    if planned != stored:
        raise UnfinishableCreation(
            "its template now plans other steps or task counts "
            f"({', '.join(f'{n}: {c}' for _, n, c in planned)}) than were stored "
            f"({', '.join(f'{n}: {c}' for _, n, c in stored)})"
        )
    for step in plan.steps:
        if written.get(step.step_id, 0) > step.task_count:
            raise UnfinishableCreation(f"step {step.name} has more tasks stored than planned")
