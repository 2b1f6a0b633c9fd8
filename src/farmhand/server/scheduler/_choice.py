"""Which job and step an idle (or session-holding) worker should work on next.

Jobs are taken highest `priority` first, then oldest first (priorityFifo). A job is open to a worker
when it has READY tasks in a step whose host requirements the worker and its fleet meet, the job's
`maxWorkerCount` leaves room (counting distinct workers holding open sessions on it; the worker's own
session counts as room), and the worker has failed fewer than the per-worker failure cap of that
job's tasks, unless the cap is lifted for that job: no other online worker that could run one of
its READY tasks is below the cap. The cap steers a job away from a worker that keeps failing it
while another can take it; it never keeps a job from ending (`maxRetriesPerTask` ends a task that
fails everywhere). A worker keeps its current session's job while that job is open to it and no open job
has a strictly higher priority and its session's step has ready work (so entered environments are
reused); a session serves one step, so other work, even another step of the same job, means a new
session.

Batching: when a step has far more READY tasks than the fleet has workers, a worker is given several
tasks of it at once (`task_batch`): fewer round trips per task for short tasks, while every worker
still gets a share (a batch never exceeds half the ready tasks divided by the online workers, and
is capped at `MAX_TASK_BATCH`). With little work each worker takes one task at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._capabilities import (
    NO_REQUIREMENTS,
    FleetCapabilities,
    Requirements,
    WorkerCapabilities,
    fleet_can_satisfy,
    worker_satisfies,
)

DEFAULT_FAILURE_CAP = 3
MAX_TASK_BATCH = 32


@dataclass(frozen=True)
class StepOption:
    step_id: str
    ready_count: int
    requirements: Requirements = NO_REQUIREMENTS


@dataclass(frozen=True)
class JobOption:
    job_id: str
    queue_id: str
    priority: int
    created_at: dt.datetime
    steps: Sequence[StepOption]  # template order
    max_worker_count: int | None = None  # None or -1: unlimited
    workers_holding: int = 0  # distinct workers with open sessions on the job


@dataclass(frozen=True)
class WorkerState:
    worker_id: str
    capabilities: WorkerCapabilities
    session_job_id: str | None = None
    session_step_id: str | None = None
    failures_by_job: Mapping[str, int] = field(default_factory=dict)
    #: Jobs whose failure cap does not hold for this worker (no other capable worker is below it).
    cap_lifted_jobs: frozenset[str] = frozenset()
    #: What the worker's fleet declares (None: not checked): a step its fleet does not meet is not
    #: given to the worker even when the worker itself meets it.
    fleet_capabilities: FleetCapabilities | None = None


@dataclass(frozen=True)
class Choice:
    job_id: str
    queue_id: str
    step_id: str
    keeps_session: bool
    ready_count: int = 1


def job_order(job: JobOption) -> tuple[int, dt.datetime, str]:
    return (-job.priority, job.created_at, job.job_id)


def at_failure_cap(failures: int, failure_cap: int) -> bool:
    """Has a worker failed enough tasks of a job for the per-worker cap to apply (0: no cap)?"""
    return failure_cap > 0 and failures >= failure_cap


def _open_steps(worker: WorkerState, job: JobOption, failure_cap: int) -> list[StepOption]:
    if (
        at_failure_cap(worker.failures_by_job.get(job.job_id, 0), failure_cap)
        and job.job_id not in worker.cap_lifted_jobs
    ):
        return []
    limited = job.max_worker_count is not None and job.max_worker_count >= 0
    if (
        limited
        and job.job_id != worker.session_job_id
        and job.workers_holding >= int(job.max_worker_count or 0)
    ):
        return []
    return [s for s in job.steps if s.ready_count > 0 and can_run(worker, s.requirements)]


def can_run(worker: WorkerState, requirements: Requirements) -> bool:
    """Do the worker and its fleet both meet a step's host requirements?"""
    fleet_ok = worker.fleet_capabilities is None or fleet_can_satisfy(worker.fleet_capabilities, requirements)
    return fleet_ok and worker_satisfies(worker.capabilities, requirements)


def choose_work(
    worker: WorkerState, jobs: Sequence[JobOption], *, failure_cap: int = DEFAULT_FAILURE_CAP
) -> Choice | None:
    """The job and step this worker should run a task of next, or None when nothing is open to it."""
    ordered = sorted(jobs, key=job_order)
    best: tuple[JobOption, list[StepOption]] | None = None
    current: tuple[JobOption, list[StepOption]] | None = None
    for job in ordered:
        steps = _open_steps(worker, job, failure_cap)
        if not steps:
            continue
        if best is None:
            best = (job, steps)
        if job.job_id == worker.session_job_id:
            current = (job, steps)
            break
        if best is not None and worker.session_job_id is None:
            break
    if best is None:
        return None
    if current is not None and current[0].priority >= best[0].priority:
        job, steps = current
        step = next((s for s in steps if s.step_id == worker.session_step_id), None)
        if step is not None:
            return Choice(
                job.job_id, job.queue_id, step.step_id, keeps_session=True, ready_count=step.ready_count
            )
    job, steps = best
    return Choice(
        job.job_id, job.queue_id, steps[0].step_id, keeps_session=False, ready_count=steps[0].ready_count
    )


def task_batch(ready_count: int, online_workers: int, *, limit: int = MAX_TASK_BATCH) -> int:
    """How many tasks of a step to hand one worker at once (at least 1)."""
    share = ready_count // max(1, 2 * online_workers)
    return max(1, min(limit, share))
