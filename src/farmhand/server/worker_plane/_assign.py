"""Give a worker its next piece of work: read the options from the store, ask the scheduler, apply.

Options are the jobs of the queues associated (ACTIVE) with the worker's fleet that have READY tasks,
with their steps' READY counts and host requirements, how many workers hold sessions on each job,
and how many tasks of each job this worker has failed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, literal_column, select
from sqlalchemy.engine import Row

from ...statuses import ONLINE_WORKER_STATUSES
from .._ids import new_id, session_action_id
from ..scheduler import (
    Choice,
    FleetCapabilities,
    JobOption,
    SessionStep,
    StepOption,
    WorkerState,
    at_failure_cap,
    can_run,
    choose_work,
    fleet_capabilities_from_api,
    kind_of,
    opening_actions,
    requirements_from_api,
    task_batch,
    task_run,
    worker_capabilities_from_api,
)
from ..store import (
    ACTION_FAILED,
    count_column,
    jobs,
    resources,
    session_actions,
    sessions,
    step_dependencies,
    steps,
    workers,
)
from ._sessions import append_actions, finish_action, open_actions, wind_down
from ._tasks import claim_tasks

ASSOCIATION_KIND = "queue-fleet-association"
#: Jobs in these lifecycle states are never scheduled.
UNSCHEDULABLE_LIFECYCLES = ("ARCHIVED", "CREATE_IN_PROGRESS", "CREATE_FAILED", "UPLOAD_IN_PROGRESS")
MAX_JOB_OPTIONS = 100
# A job with READY tasks, with a literal 0 so that SQLite sees the query implies the predicate of the
# partial index ix_jobs_ready (a bound parameter would hide it, and every job of the queue be read).
READY_JOB = jobs.c[count_column("READY")] > literal_column("0")

# Statements of every schedule call that looks for work, built once: building one and deriving its
# cache key cost more than SQLite takes to run it.
_ASSOCIATIONS = select(resources.c.parent_id, resources.c.status).where(
    and_(
        resources.c.kind == ASSOCIATION_KIND,
        resources.c.farm_id == bindparam("farm_id"),
        resources.c.ref_id == bindparam("fleet_id"),
    )
)
_FAILURES_BY_JOB = (
    select(sessions.c.job_id, func.count())
    .select_from(session_actions.join(sessions, sessions.c.session_id == session_actions.c.session_id))
    .where(
        and_(
            sessions.c.worker_id == bindparam("worker_id"),
            sessions.c.job_id.in_(bindparam("job_ids", expanding=True)),
            ACTION_FAILED,
            session_actions.c.task_id.is_not(None),
        )
    )
    .group_by(sessions.c.job_id)
)
_FLEET_DOCS = select(resources.c.resource_id, resources.c.doc).where(
    and_(resources.c.kind == "fleet", resources.c.resource_id.in_(bindparam("fleet_ids", expanding=True)))
)
# A job a worker may be given work from: READY tasks, in a lifecycle that can be scheduled. The
# options `assign_work` reads and the idle polls' check (`fleet_has_ready_job`) both use it, so the
# check can never say "none" where the options would offer one.
_SCHEDULABLE_READY_JOB = and_(READY_JOB, jobs.c.lifecycle_status.not_in(UNSCHEDULABLE_LIFECYCLES))
_READY_JOBS = (
    select(jobs.c.job_id, jobs.c.queue_id, jobs.c.priority, jobs.c.created_at, jobs.c.max_worker_count)
    .where(and_(jobs.c.queue_id.in_(bindparam("queue_ids", expanding=True)), _SCHEDULABLE_READY_JOB))
    .order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.job_id)
    .limit(MAX_JOB_OPTIONS)
)
_ACTIVE_QUEUES = select(resources.c.parent_id).where(
    and_(
        resources.c.kind == ASSOCIATION_KIND,
        resources.c.farm_id == bindparam("farm_id"),
        resources.c.ref_id == bindparam("fleet_id"),
        resources.c.status == "ACTIVE",
    )
)
_FLEET_HAS_READY_JOB = (
    select(jobs.c.job_id).where(and_(jobs.c.queue_id.in_(_ACTIVE_QUEUES), _SCHEDULABLE_READY_JOB)).limit(1)
)
_STEP_READY = steps.c[count_column("READY")]
_READY_STEPS = (
    select(steps.c.step_id, steps.c.job_id, _STEP_READY.label("ready"), steps.c.required_capabilities)
    .where(and_(steps.c.job_id.in_(bindparam("job_ids", expanding=True)), _STEP_READY > 0))
    .order_by(steps.c.job_id, steps.c.step_index)
)
_HOLDING = (
    select(sessions.c.job_id, func.count(func.distinct(sessions.c.worker_id)))
    .where(
        and_(
            sessions.c.job_id.in_(bindparam("job_ids", expanding=True)),
            sessions.c.lifecycle_status != "ENDED",
        )
    )
    .group_by(sessions.c.job_id)
)
_ONLINE_IN_FLEET = select(func.count()).where(
    and_(workers.c.fleet_id == bindparam("fleet_id"), workers.c.status.in_(ONLINE_WORKER_STATUSES))
)


def active_queue_ids(conn: Connection, farm_id: str, fleet_id: str) -> list[str]:
    """Queues whose association with this fleet is ACTIVE (only those give the fleet work)."""
    return [
        str(r.parent_id) for r in conn.execute(_ACTIVE_QUEUES, {"farm_id": farm_id, "fleet_id": fleet_id})
    ]


def fleet_has_ready_job(conn: Connection, farm_id: str, fleet_id: str) -> bool:
    """Whether a job of a queue associated (ACTIVE) with this fleet has READY tasks: the options
    `assign_work` reads, so without one a worker with no session would be given nothing."""
    return conn.execute(_FLEET_HAS_READY_JOB, {"farm_id": farm_id, "fleet_id": fleet_id}).first() is not None


def association_statuses(conn: Connection, farm_id: str, fleet_id: str) -> dict[str, str]:
    """The status of each queue's association with this fleet (queue id → status), in one read."""
    return {
        str(r.parent_id): str(r.status)
        for r in conn.execute(_ASSOCIATIONS, {"farm_id": farm_id, "fleet_id": fleet_id})
    }


def failures_by_job(conn: Connection, worker_id: str, job_ids: list[str]) -> dict[str, int]:
    """How many task runs of each job this worker has FAILED (for the per-worker failure cap)."""
    if not job_ids:
        return {}
    rows = conn.execute(_FAILURES_BY_JOB, {"worker_id": worker_id, "job_ids": job_ids})
    return {str(r[0]): int(r[1]) for r in rows}


def failures_by_worker(conn: Connection, job_id: str, worker_ids: list[str]) -> dict[str, int]:
    """How many task runs of one job each of these workers has FAILED."""
    if not worker_ids:
        return {}
    rows = conn.execute(
        select(sessions.c.worker_id, func.count())
        .select_from(session_actions.join(sessions, sessions.c.session_id == session_actions.c.session_id))
        .where(
            and_(
                sessions.c.job_id == job_id,
                sessions.c.worker_id.in_(worker_ids),
                session_actions.c.status == "FAILED",
                session_actions.c.task_id.is_not(None),
            )
        )
        .group_by(sessions.c.worker_id)
    )
    return {str(r[0]): int(r[1]) for r in rows}


def online_workers_of_queue(conn: Connection, farm_id: str, queue_id: str) -> list[Row[Any]]:
    """Online workers of the fleets whose association with this queue is ACTIVE."""
    fleet_ids = select(resources.c.ref_id).where(
        and_(
            resources.c.kind == ASSOCIATION_KIND,
            resources.c.farm_id == farm_id,
            resources.c.parent_id == queue_id,
            resources.c.status == "ACTIVE",
        )
    )
    return list(
        conn.execute(
            select(workers.c.worker_id, workers.c.fleet_id, workers.c.capabilities).where(
                and_(workers.c.fleet_id.in_(fleet_ids), workers.c.status.in_(ONLINE_WORKER_STATUSES))
            )
        )
    )


def fleet_capabilities_of(conn: Connection, fleet_ids: list[str]) -> dict[str, FleetCapabilities]:
    """What each fleet declares (GetFleet's `capabilities`)."""
    if not fleet_ids:
        return {}
    rows = conn.execute(_FLEET_DOCS, {"fleet_ids": fleet_ids})
    return {str(r.resource_id): fleet_capabilities_from_api((r.doc or {}).get("capabilities")) for r in rows}


def worker_state(row: Row[Any], fleets: dict[str, FleetCapabilities], **extra: Any) -> WorkerState:
    """A worker as the scheduler sees it: what it reported and what its fleet declares."""
    return WorkerState(
        worker_id=row.worker_id,
        capabilities=worker_capabilities_from_api(row.capabilities),
        fleet_capabilities=fleets.get(row.fleet_id),
        **extra,
    )


def lifted_failure_caps(
    conn: Connection, worker: Row[Any], options: list[JobOption], failures: dict[str, int], failure_cap: int
) -> frozenset[str]:
    """The jobs this worker is capped on that no other online worker able to run them is below the cap of.

    For those the cap is lifted: it may only steer work to another worker, never stall a job.
    """
    lifted: set[str] = set()
    for option in options:
        if not at_failure_cap(failures.get(option.job_id, 0), failure_cap):
            continue
        candidates = [
            w
            for w in online_workers_of_queue(conn, worker.farm_id, option.queue_id)
            if w.worker_id != worker.worker_id
        ]
        fleets = fleet_capabilities_of(conn, sorted({str(w.fleet_id) for w in candidates}))
        others = [
            w
            for w in candidates
            if any(can_run(worker_state(w, fleets), step.requirements) for step in option.steps)
        ]
        their_failures = failures_by_worker(conn, option.job_id, [w.worker_id for w in others])
        if all(at_failure_cap(their_failures.get(w.worker_id, 0), failure_cap) for w in others):
            lifted.add(option.job_id)
    return frozenset(lifted)


def job_options(conn: Connection, queue_ids: list[str]) -> list[JobOption]:
    if not queue_ids:
        return []
    job_rows = list(conn.execute(_READY_JOBS, {"queue_ids": queue_ids}))
    if not job_rows:
        return []
    ids = [r.job_id for r in job_rows]
    by_job: dict[str, list[StepOption]] = defaultdict(list)
    for s in conn.execute(_READY_STEPS, {"job_ids": ids}):
        by_job[s.job_id].append(
            StepOption(s.step_id, int(s.ready), requirements_from_api(s.required_capabilities))
        )
    holding = {str(r[0]): int(r[1]) for r in conn.execute(_HOLDING, {"job_ids": ids})}
    return [
        JobOption(
            job_id=r.job_id,
            queue_id=r.queue_id,
            priority=int(r.priority),
            created_at=r.created_at,
            steps=by_job.get(r.job_id, []),
            max_worker_count=r.max_worker_count,
            workers_holding=holding.get(r.job_id, 0),
        )
        for r in job_rows
    ]


def step_environment_ids(step_id: str, template: dict[str, Any] | None) -> list[str]:
    """`STEP:<stepId>:<name>` for each of the step's environments, in template order."""
    return [f"STEP:{step_id}:{env['name']}" for env in (template or {}).get("stepEnvironments") or []]


def _session_step(conn: Connection, step_id: str) -> SessionStep:
    row = conn.execute(select(steps.c.template).where(steps.c.step_id == step_id)).first()
    has_dependencies = (
        conn.execute(
            select(step_dependencies.c.depends_on_step_id)
            .where(step_dependencies.c.step_id == step_id)
            .limit(1)
        ).first()
        is not None
    )
    return SessionStep(
        step_id, step_environment_ids(step_id, row.template if row else None), has_dependencies
    )


@dataclass(frozen=True)
class SeenState:
    """What UpdateWorkerSchedule has read of the worker's state in this transaction, still current."""

    sessions: list[Row[Any]]  # the worker's live sessions, oldest first
    actions: Mapping[str, list[Row[Any]]]  # session id → its open actions, in order
    associations: Mapping[str, str]  # queue id → status of its association with the worker's fleet


REFILL_BELOW = 2  # a busy worker's session is topped up once fewer task runs than this wait behind the first


def assign_work(
    conn: Connection,
    worker: Row[Any],
    *,
    now: dt.datetime,
    failure_cap: int,
    by: str,
    seen: SeenState | None = None,
) -> bool:
    """Append the worker's next task to its session (or open one); True when work was assigned.

    One session per worker: while its session winds down, or while it still has a task queued or
    running, it gets nothing more. When the scheduler sends it elsewhere, its session winds down first.
    `seen`, when given, is what this transaction has already read and not changed since.
    """
    if seen is not None:
        live = list(seen.sessions)
    else:
        live = [
            s
            for s in conn.execute(
                select(sessions).where(
                    and_(sessions.c.worker_id == worker.worker_id, sessions.c.lifecycle_status != "ENDED")
                )
            )
        ]
    if any(s.target_lifecycle_status == "ENDED" for s in live):
        return False
    current = live[0] if live else None
    queued_runs: list[Row[Any]] = []
    busy = False
    if current is not None:
        actions = (
            seen.actions[current.session_id]
            if seen is not None and current.session_id in seen.actions
            else open_actions(conn, current.session_id)
        )
        runs = [a for a in actions if kind_of(a.definition) == "taskRun"]
        if runs:
            # Busy. Tasks queued behind the first one (which may be running) are given back when a
            # higher-priority job wants this worker, so a batch never holds up urgent work.
            busy = True
            queued_runs = [a for a in runs[1:] if a.status in ("ASSIGNED", "SCHEDULED")]
    queue_ids = (
        [q for q, status in seen.associations.items() if status == "ACTIVE"]
        if seen is not None
        else active_queue_ids(conn, worker.farm_id, worker.fleet_id)
    )
    options = job_options(conn, queue_ids)
    if not options:
        # Nothing READY in the queues this fleet serves (every idle poll): nothing more to read.
        if current is not None and not busy:
            wind_down(conn, current, now=now)  # as below when there is no choice
        return False
    failures = failures_by_job(conn, worker.worker_id, [o.job_id for o in options])
    state = worker_state(
        worker,
        fleet_capabilities_of(conn, [worker.fleet_id]),
        session_job_id=current.job_id if current is not None else None,
        session_step_id=current.step_id if current is not None else None,
        failures_by_job=failures,
        cap_lifted_jobs=lifted_failure_caps(conn, worker, options, failures, failure_cap),
    )
    choice = choose_work(state, options, failure_cap=failure_cap)
    if busy:
        assert current is not None
        if choice is None:
            return False
        if choice.job_id == current.job_id and choice.step_id == current.step_id:
            if len(queued_runs) < REFILL_BELOW:
                # Running low on the same step: top the session up now, so the worker never waits
                # a round trip between batches.
                return _append_task(conn, worker, current, choice, now=now, by=by)
        elif queued_runs and _outranks(conn, options, choice.job_id, current_job_id(current)):
            for action in queued_runs:
                finish_action(conn, action, "NEVER_ATTEMPTED", now=now)
        return False
    if current is not None and (
        choice is None or choice.job_id != current.job_id or choice.step_id != current.step_id
    ):
        # One step per session, as the service keeps them: another step opens a session of its own.
        wind_down(conn, current, now=now)
        return False
    if choice is None:
        return False
    return _append_task(conn, worker, current, choice, now=now, by=by)


def _append_task(
    conn: Connection, worker: Row[Any], current: Row[Any] | None, choice: Choice, *, now: dt.datetime, by: str
) -> bool:
    definitions = []
    if current is None:
        # A new session: what it opens with comes from the job (read only then, not on a top-up).
        job = conn.execute(
            select(
                jobs.c.job_id, jobs.c.queue_id, jobs.c.farm_id, jobs.c.environments, jobs.c.attachments
            ).where(jobs.c.job_id == choice.job_id)
        ).first()
        if job is None:
            return False
        has_attachments = bool(job.attachments)
        session: dict[str, Any] = {
            "session_id": new_id("session"),
            "farm_id": job.farm_id,
            "queue_id": job.queue_id,
            "job_id": job.job_id,
            "fleet_id": worker.fleet_id,
            "worker_id": worker.worker_id,
            "lifecycle_status": "STARTED",
            "step_id": choice.step_id,
            "next_action_index": 0,
            "host_properties": worker.host_properties,
            "started_at": now,
            "updated_at": now,
            "updated_by": by,
        }
        job_env_ids = [str(e["environmentId"]) for e in job.environments or []]
        step = _session_step(conn, choice.step_id)
        definitions += opening_actions(job_env_ids, step, has_attachments=has_attachments)
        session["entered_environments"] = [*job_env_ids, *step.environment_ids]
    else:
        session = dict(current._mapping)
    first = int(session["next_action_index"]) + len(definitions)
    online = conn.execute(_ONLINE_IN_FLEET, {"fleet_id": worker.fleet_id}).scalar()
    batch = task_batch(choice.ready_count, int(online or 1))
    action_ids = [session_action_id(session["session_id"], first + i) for i in range(batch)]
    ready_since: dict[str, dt.datetime] = {}
    claimed = claim_tasks(conn, choice.job_id, choice.step_id, action_ids, now=now, ready_since=ready_since)
    if not claimed:
        return False
    definitions += [task_run(choice.step_id, task_id, parameters) for task_id, parameters in claimed]
    if current is None:
        conn.execute(insert(sessions).values(**session))
    append_actions(conn, session, definitions, now=now, ready_since=ready_since)  # sets updated_at
    return True


def _outranks(conn: Connection, options: list[JobOption], job_id: str, other_job_id: str | None) -> bool:
    """Is `job_id` of strictly higher priority than `other_job_id`?"""
    if other_job_id is None or job_id == other_job_id:
        return False
    priority = {o.job_id: o.priority for o in options}
    other = priority.get(other_job_id)
    if other is None:
        other = conn.execute(select(jobs.c.priority).where(jobs.c.job_id == other_job_id)).scalar()
    return priority.get(job_id, 0) > int(other or 0)


def current_job_id(session: Row[Any] | None) -> str | None:
    return None if session is None else str(session.job_id)
