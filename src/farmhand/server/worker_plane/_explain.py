"""ExplainJob in the store: read the facts the scheduler decides on, and ask it why work waits.

For every step of the job with unfinished or failed tasks, one reason per status it has: PENDING
(the upstream steps), READY (the path to a worker, see `scheduler.why_ready`), running (on which
workers), SUSPENDED/CANCELED (who asked), NOT_COMPATIBLE (what no fleet meets), FAILED (how many).
The job's lifecycle comes first when it holds everything (tasks still being written, a failed
creation, an archived job).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.engine import Row

from ...statuses import HELD_TASK_RUN_STATUSES
from ..scheduler import (
    FleetFacts,
    QueueFacts,
    Reason,
    UpstreamStep,
    WorkerFacts,
    fleet_capabilities_from_api,
    job_order,
    kind_of,
    requirements_from_api,
    why_held,
    why_not_compatible,
    why_pending,
    why_ready,
    worker_capabilities_from_api,
)
from ..store import (
    OPEN_ACTION_STATUSES,
    TASK_RUN_STATUSES,
    count_column,
    find_document,
    resources,
    session_actions,
    sessions,
    step_dependencies,
    steps,
    tasks,
    workers,
)
from ._assign import ASSOCIATION_KIND, failures_by_worker, job_options

_LIFECYCLE_MESSAGES = {
    "CREATE_IN_PROGRESS": "the farm is still writing the job's tasks; they are scheduled once it is done",
    "UPLOAD_IN_PROGRESS": "the job's attachments are still uploading",
    "CREATE_FAILED": "the job could not be created",
    "ARCHIVED": "the job is archived: nothing of it runs again",
}


def explain_job(conn: Connection, job: Row[Any], *, failure_cap: int) -> dict[str, Any]:
    """ExplainJob's answer for a job row (farm and queue already checked)."""
    job_reasons: list[Reason] = []
    if job.lifecycle_status in _LIFECYCLE_MESSAGES:
        message = _LIFECYCLE_MESSAGES[job.lifecycle_status]
        if job.lifecycle_status_message:
            message += f": {job.lifecycle_status_message}"
        job_reasons.append(Reason("LIFECYCLE", str(job.task_run_status), message))
    step_rows = list(
        conn.execute(select(steps).where(steps.c.job_id == job.job_id).order_by(steps.c.step_index))
    )
    by_id = {r.step_id: r for r in step_rows}
    upstream: dict[str, list[str]] = defaultdict(list)
    for dep in conn.execute(select(step_dependencies).where(step_dependencies.c.job_id == job.job_id)):
        upstream[dep.step_id].append(dep.depends_on_step_id)
    queue_facts: QueueFacts | None = None
    explained = []
    for row in step_rows:
        counts = _counts(row)
        if counts.get("SUCCEEDED", 0) == sum(counts.values()):
            continue
        reasons: list[Reason] = []
        if counts.get("PENDING"):
            ups = [by_id[u] for u in upstream.get(row.step_id, []) if u in by_id]
            reasons += why_pending([_upstream(u) for u in ups])
        if counts.get("READY"):
            if queue_facts is None:
                queue_facts = _queue_facts(conn, job, failure_cap=failure_cap)
            reasons += why_ready(requirements_from_api(row.required_capabilities), queue_facts)
        held = sum(counts.get(s, 0) for s in HELD_TASK_RUN_STATUSES)
        if held:
            holders = _workers_running(conn, row.step_id)
            reasons.append(
                Reason(
                    "RUNNING",
                    "RUNNING",
                    f"{held} task{'' if held == 1 else 's'} held by worker{'' if len(holders) == 1 else 's'} "
                    + ", ".join(holders),
                    worker_ids=tuple(holders),
                    count=held,
                )
            )
        for status in ("SUSPENDED", "CANCELED"):
            if counts.get(status):
                reasons.append(_held_reason(conn, job, row, status, counts[status]))
        if counts.get("NOT_COMPATIBLE"):
            fleets = _fleets_of_queue(conn, job.farm_id, job.queue_id)
            reasons += why_not_compatible(requirements_from_api(row.required_capabilities), fleets)
        if counts.get("FAILED"):
            failed = counts["FAILED"]
            reasons.append(
                Reason("FAILED", "FAILED", f"{failed} task{'' if failed == 1 else 's'} failed", count=failed)
            )
        explained.append(
            {
                "stepId": row.step_id,
                "name": row.name,
                "taskRunStatus": row.task_run_status,
                "taskRunStatusCounts": counts,
                "reasons": [_reason_output(r) for r in reasons],
            }
        )
    return {
        "jobId": job.job_id,
        "taskRunStatus": job.task_run_status,
        "reasons": [_reason_output(r) for r in job_reasons],
        "steps": explained,
    }


def _counts(row: Row[Any]) -> dict[str, int]:
    mapping = row._mapping
    return {s: int(mapping[count_column(s)] or 0) for s in TASK_RUN_STATUSES if mapping[count_column(s)]}


def _upstream(row: Row[Any]) -> UpstreamStep:
    counts = _counts(row)
    return UpstreamStep(
        row.step_id, row.name, row.task_run_status, counts.get("SUCCEEDED", 0), sum(counts.values())
    )


def _reason_output(reason: Reason) -> dict[str, Any]:
    """A Reason in the model's `Reason` shape (camelCase, empty members left out)."""
    names = {"step_ids": "stepIds", "fleet_ids": "fleetIds", "worker_ids": "workerIds"}
    out: dict[str, Any] = {}
    for key, value in asdict(reason).items():
        if value is None or value == ():
            continue
        out[names.get(key, key)] = list(value) if isinstance(value, tuple) else value
    return out


def _fleets_of_queue(conn: Connection, farm_id: str, queue_id: str) -> list[FleetFacts]:
    """Every fleet associated with the queue (any association status), oldest association first."""
    associations = list(
        conn.execute(
            select(resources.c.ref_id, resources.c.status)
            .where(
                and_(
                    resources.c.kind == ASSOCIATION_KIND,
                    resources.c.farm_id == farm_id,
                    resources.c.parent_id == queue_id,
                )
            )
            .order_by(resources.c.created_at)
        )
    )
    if not associations:
        return []
    docs = {
        str(r.resource_id): r.doc or {}
        for r in conn.execute(
            select(resources.c.resource_id, resources.c.doc).where(
                and_(
                    resources.c.kind == "fleet", resources.c.resource_id.in_([a.ref_id for a in associations])
                )
            )
        )
    }
    return [
        FleetFacts(
            fleet_id=str(a.ref_id),
            name=str(docs.get(str(a.ref_id), {}).get("displayName", a.ref_id)),
            association_status=str(a.status),
            capabilities=fleet_capabilities_from_api(docs.get(str(a.ref_id), {}).get("capabilities")),
        )
        for a in associations
    ]


def _queue_facts(conn: Connection, job: Row[Any], *, failure_cap: int) -> QueueFacts:
    fleets = _fleets_of_queue(conn, job.farm_id, job.queue_id)
    fleet_ids = [f.fleet_id for f in fleets]
    worker_rows = (
        list(
            conn.execute(
                select(workers.c.worker_id, workers.c.fleet_id, workers.c.status, workers.c.capabilities)
                .where(workers.c.fleet_id.in_(fleet_ids))
                .order_by(workers.c.worker_id)
            )
        )
        if fleet_ids
        else []
    )
    ids = [str(w.worker_id) for w in worker_rows]
    failures = failures_by_worker(conn, job.job_id, ids)
    busy_with: dict[str, str] = {}
    holding: set[str] = set()
    if ids:
        for s in conn.execute(
            select(sessions.c.worker_id, sessions.c.job_id, sessions.c.target_lifecycle_status).where(
                and_(sessions.c.worker_id.in_(ids), sessions.c.lifecycle_status != "ENDED")
            )
        ):
            if s.job_id == job.job_id:
                holding.add(str(s.worker_id))
            if s.target_lifecycle_status == "ENDED":
                busy_with[str(s.worker_id)] = str(s.job_id)  # winding down
        for a in conn.execute(
            select(sessions.c.worker_id, sessions.c.job_id, session_actions.c.definition)
            .select_from(
                session_actions.join(sessions, sessions.c.session_id == session_actions.c.session_id)
            )
            .where(and_(sessions.c.worker_id.in_(ids), session_actions.c.status.in_(OPEN_ACTION_STATUSES)))
        ):
            if kind_of(a.definition) == "taskRun":
                busy_with[str(a.worker_id)] = str(a.job_id)
    active_queues = sorted(
        {
            str(r.parent_id)
            for r in conn.execute(
                select(resources.c.parent_id).where(
                    and_(
                        resources.c.kind == ASSOCIATION_KIND,
                        resources.c.ref_id.in_(fleet_ids),
                        resources.c.status == "ACTIVE",
                    )
                )
            )
        }
    )
    waiting = sorted(job_options(conn, active_queues), key=job_order) if active_queues else []
    position = next((i + 1 for i, o in enumerate(waiting) if o.job_id == job.job_id), len(waiting) + 1)
    holders = conn.execute(
        select(func.count(func.distinct(sessions.c.worker_id))).where(
            and_(sessions.c.job_id == job.job_id, sessions.c.lifecycle_status != "ENDED")
        )
    ).scalar()
    queue_doc = find_document(conn, "queue", job.queue_id)
    return QueueFacts(
        queue_name=str((queue_doc or {}).get("displayName", job.queue_id)),
        fleets=fleets,
        workers=[
            WorkerFacts(
                worker_id=str(w.worker_id),
                fleet_id=str(w.fleet_id),
                status=str(w.status),
                capabilities=worker_capabilities_from_api(w.capabilities),
                failures=failures.get(str(w.worker_id), 0),
                busy_with=busy_with.get(str(w.worker_id)),
                holds_job=str(w.worker_id) in holding,
            )
            for w in worker_rows
        ],
        failure_cap=failure_cap,
        max_worker_count=job.max_worker_count,
        workers_holding=int(holders or 0),
        position=position,
        waiting_jobs=max(len(waiting), position),
    )


def _workers_running(conn: Connection, step_id: str) -> list[str]:
    """The workers whose sessions hold open task runs of the step."""
    return sorted(
        {
            str(r.worker_id)
            for r in conn.execute(
                select(sessions.c.worker_id)
                .select_from(
                    session_actions.join(sessions, sessions.c.session_id == session_actions.c.session_id)
                )
                .where(
                    and_(
                        session_actions.c.step_id == step_id,
                        session_actions.c.status.in_(OPEN_ACTION_STATUSES),
                    )
                )
            )
        }
    )


def _held_reason(conn: Connection, job: Row[Any], step: Row[Any], status: str, count: int) -> Reason:
    """Who suspended or canceled a step's tasks: the job's or step's request, else the tasks' last change."""
    if job.target_task_run_status == status and job.updated_by:
        return why_held(status, count, str(job.updated_by))
    if step.target_task_run_status == status and step.updated_by:
        return why_held(status, count, str(step.updated_by))
    last = conn.execute(
        select(tasks.c.updated_by)
        .where(
            and_(
                tasks.c.step_id == step.step_id, tasks.c.run_status == status, tasks.c.updated_by.is_not(None)
            )
        )
        .order_by(tasks.c.updated_at.desc())
        .limit(1)
    ).scalar()
    if last:
        return why_held(status, count, str(last))
    if status == "SUSPENDED":
        return why_held(
            status, count, None, farm_reason=f"the job was submitted SUSPENDED by {job.created_by}"
        )
    failed = int(job._mapping[count_column("FAILED")] or 0)
    if job.max_failed_tasks_count is not None and failed >= int(job.max_failed_tasks_count):
        reason = f"the job reached maxFailedTasksCount ({job.max_failed_tasks_count} failed tasks)"
        return why_held(status, count, None, farm_reason=reason)
    return why_held(status, count, None)
