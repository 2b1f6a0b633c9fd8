"""Why work waits: the scheduler's own rules, asked the other way round (pure).

`choose_work` answers "what does this worker run next"; these functions answer "why does nobody run
this step's READY tasks", "what keeps this step NOT_COMPATIBLE", "what does a PENDING step wait for",
from facts the worker plane reads out of the store. Each answer is a list of `Reason`s: a code a
program can test, the status it explains, one sentence for people, and the ids and values it names.
The checks follow the path a task takes to a worker, and the first one that stops every worker is the
answer: an association with a fleet, a fleet whose declared capabilities meet the step, a registered
and online worker in it that meets the step, the per-worker failure cap, `maxWorkerCount`, and
finally workers that are all busy (with the job's place among those waiting for them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...statuses import BLOCKING_TASK_RUN_STATUSES, ONLINE_WORKER_STATUSES
from ._capabilities import (
    FleetCapabilities,
    Requirements,
    WorkerCapabilities,
    unmet_by_fleet,
    unmet_by_worker,
)
from ._choice import at_failure_cap


@dataclass(frozen=True)
class Reason:
    code: str
    status: str  # the task run status it explains
    message: str
    step_ids: tuple[str, ...] = ()
    fleet_ids: tuple[str, ...] = ()
    worker_ids: tuple[str, ...] = ()
    requirement: str | None = None
    have: str | None = None
    position: int | None = None
    count: int | None = None
    by: str | None = None


@dataclass(frozen=True)
class FleetFacts:
    fleet_id: str
    name: str
    association_status: str  # of its association with the job's queue
    capabilities: FleetCapabilities


@dataclass(frozen=True)
class WorkerFacts:
    worker_id: str
    fleet_id: str
    status: str
    capabilities: WorkerCapabilities
    failures: int = 0  # FAILED task runs of the job being explained
    busy_with: str | None = None  # the job whose task it runs or has queued; None: idle
    holds_job: bool = False  # has an open session on the job being explained


@dataclass(frozen=True)
class QueueFacts:
    """What decides whether a job's READY tasks reach a worker, read once per job."""

    queue_name: str
    fleets: Sequence[FleetFacts]
    workers: Sequence[WorkerFacts]  # the workers of those fleets
    failure_cap: int
    max_worker_count: int | None  # None or negative: unlimited
    workers_holding: int  # distinct workers with open sessions on the job
    position: int  # the job's place among the jobs with READY tasks for these fleets (1: next)
    waiting_jobs: int


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _names(ids: Iterable[str]) -> str:
    return ", ".join(ids)


def why_ready(requirements: Requirements, facts: QueueFacts) -> list[Reason]:
    """Why no worker takes (or which worker is about to take) a step's READY tasks."""
    status = "READY"
    if not facts.fleets:
        return [
            Reason(
                "NO_FLEET",
                status,
                f"no fleet is associated with queue {facts.queue_name}, so no worker takes its tasks",
            )
        ]
    active = [f for f in facts.fleets if f.association_status == "ACTIVE"]
    if not active:
        listed = "; ".join(f"fleet {f.name} is {f.association_status}" for f in facts.fleets)
        return [
            Reason(
                "ASSOCIATION_NOT_ACTIVE",
                status,
                f"no association of queue {facts.queue_name} with a fleet is ACTIVE ({listed})",
                fleet_ids=tuple(f.fleet_id for f in facts.fleets),
            )
        ]
    meeting = [f for f in active if not unmet_by_fleet(f.capabilities, requirements)]
    if not meeting:
        first = unmet_by_fleet(active[0].capabilities, requirements)[0]
        declared = "; ".join(
            f"fleet {f.name} declares {u.name} {u.have}"
            for f in active
            for u in unmet_by_fleet(f.capabilities, requirements)[:1]
        )
        return [
            Reason(
                "NO_FLEET_MEETS_REQUIREMENTS",
                status,
                f"{first}, but no fleet of the queue meets it ({declared}); the step becomes NOT_COMPATIBLE",
                fleet_ids=tuple(f.fleet_id for f in active),
                requirement=f"{first.name} {first.wanted}",
                have=first.have,
            )
        ]
    meeting_ids = {f.fleet_id for f in meeting}
    name_of = {f.fleet_id: f.name for f in facts.fleets}
    registered = [w for w in facts.workers if w.fleet_id in meeting_ids]
    fleet_names = _names(f.name for f in meeting)
    if not registered:
        return [
            Reason(
                "NO_WORKER",
                status,
                f"no worker is registered in fleet {fleet_names}; "
                "start one (`farmhand worker`, `farmhand up`)",
                fleet_ids=tuple(sorted(meeting_ids)),
            )
        ]
    online = [w for w in registered if w.status in ONLINE_WORKER_STATUSES]
    if not online:
        states = Counter(w.status for w in registered)
        listed = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        note = " (CREATED: registered, never started)" if "CREATED" in states else ""
        return [
            Reason(
                "NO_WORKER_ONLINE",
                status,
                f"none of the {_plural(len(registered), 'worker')} of fleet {fleet_names} is online: "
                f"{listed}{note}",
                fleet_ids=tuple(sorted(meeting_ids)),
                worker_ids=tuple(w.worker_id for w in registered),
            )
        ]
    capable = [w for w in online if not unmet_by_worker(w.capabilities, requirements)]
    if not capable:
        closest = min(online, key=lambda w: len(unmet_by_worker(w.capabilities, requirements)))
        unmet = unmet_by_worker(closest.capabilities, requirements)[0]
        peers = [w for w in online if w.fleet_id == closest.fleet_id]
        values = sorted(
            {
                u.have
                for w in peers
                for u in unmet_by_worker(w.capabilities, requirements)
                if u.name == unmet.name
            }
        )
        who = (
            f"the only online worker of fleet {name_of[closest.fleet_id]} has"
            if len(peers) == 1
            else f"the {len(peers)} online workers of fleet {name_of[closest.fleet_id]} have"
        )
        return [
            Reason(
                "WORKERS_DO_NOT_MEET_REQUIREMENTS",
                status,
                f"{unmet}; {who} {', '.join(values)}",
                fleet_ids=(closest.fleet_id,),
                worker_ids=tuple(w.worker_id for w in peers),
                requirement=f"{unmet.name} {unmet.wanted}",
                have=unmet.have,
            )
        ]
    reasons: list[Reason] = []
    candidates = capable
    capped = [w for w in capable if at_failure_cap(w.failures, facts.failure_cap)]
    if capped and len(capped) < len(capable):  # all capped: the cap lifts
        candidates = [w for w in capable if w not in capped]
        reasons.append(
            Reason(
                "FAILURE_CAP",
                status,
                f"{_plural(len(capped), 'worker')} ({_names(w.worker_id for w in capped)}) failed "
                f"{facts.failure_cap} or more tasks of this job (the farm's per-worker failure cap): "
                f"they take no more of it while {_names(w.worker_id for w in candidates)} can",
                worker_ids=tuple(w.worker_id for w in capped),
                count=facts.failure_cap,
            )
        )
    limit = facts.max_worker_count
    if limit is not None and limit >= 0 and facts.workers_holding >= limit:
        holders = [w for w in candidates if w.holds_job]
        if not holders:
            reasons.append(
                Reason(
                    "MAX_WORKER_COUNT",
                    status,
                    f"the job's maxWorkerCount ({limit}) is reached: "
                    f"{_plural(facts.workers_holding, 'worker')} hold sessions on it",
                    count=limit,
                )
            )
            return reasons
        candidates = holders
    idle = [w for w in candidates if w.busy_with is None]
    if idle:
        reasons.append(
            Reason(
                "STARTING",
                status,
                f"{_plural(len(idle), 'idle worker')} can run it ({_names(w.worker_id for w in idle)}): "
                "it starts on their next poll",
                worker_ids=tuple(w.worker_id for w in idle),
            )
        )
        return reasons
    doing = "; ".join(f"{w.worker_id} on {w.busy_with}" for w in candidates)
    reasons.append(
        Reason(
            "WORKERS_BUSY",
            status,
            f"all {_plural(len(candidates), 'worker')} that can run it are busy ({doing}); this job is "
            f"{_ordinal(facts.position)} by priority among the {_plural(facts.waiting_jobs, 'job')} "
            "with ready tasks for them",
            worker_ids=tuple(w.worker_id for w in candidates),
            position=facts.position,
            count=facts.waiting_jobs,
        )
    )
    return reasons


def why_not_compatible(requirements: Requirements, fleets: Sequence[FleetFacts]) -> list[Reason]:
    """The requirement each fleet associated with the queue does not meet."""
    status = "NOT_COMPATIBLE"
    if not fleets:
        return [Reason("NOT_COMPATIBLE", status, "no fleet is associated with the queue")]
    reasons = []
    for fleet in fleets:
        for unmet in unmet_by_fleet(fleet.capabilities, requirements)[:1]:
            reasons.append(
                Reason(
                    "NOT_COMPATIBLE",
                    status,
                    f"{unmet}; fleet {fleet.name} declares {unmet.have}",
                    fleet_ids=(fleet.fleet_id,),
                    requirement=f"{unmet.name} {unmet.wanted}",
                    have=unmet.have,
                )
            )
    if not reasons:  # the fleets meet it now (capabilities changed since): a requeue runs it
        names = _names(f.name for f in fleets)
        reasons.append(
            Reason(
                "NOT_COMPATIBLE",
                status,
                f"fleet {names} meets its host requirements now; requeue the tasks to run them",
                fleet_ids=tuple(f.fleet_id for f in fleets),
            )
        )
    return reasons


@dataclass(frozen=True)
class UpstreamStep:
    step_id: str
    name: str
    status: str
    succeeded: int
    total: int


def why_pending(upstream: Sequence[UpstreamStep]) -> list[Reason]:
    """A PENDING step waits for its upstream steps to succeed, or is blocked by one that ended."""
    blockers = [u for u in upstream if u.status in BLOCKING_TASK_RUN_STATUSES]
    if blockers:
        listed = ", ".join(f"{u.name} is {u.status}" for u in blockers)
        return [
            Reason(
                "BLOCKED_BY_STEPS",
                "PENDING",
                f"its tasks will not run: upstream step {listed}",
                step_ids=tuple(u.step_id for u in blockers),
            )
        ]
    waiting = [u for u in upstream if u.status != "SUCCEEDED"]
    if not waiting:
        return []
    listed = ", ".join(f"{u.name} ({u.succeeded}/{u.total} succeeded, {u.status})" for u in waiting)
    return [
        Reason(
            "WAITING_FOR_STEPS",
            "PENDING",
            f"waits for step {listed}",
            step_ids=tuple(u.step_id for u in waiting),
        )
    ]


def why_held(status: str, count: int, by: str | None, *, farm_reason: str | None = None) -> Reason:
    """SUSPENDED or CANCELED tasks: who asked for it (or why the farm did)."""
    tasks = _plural(count, "task")
    if by:
        message = f"{tasks} {status} by {by}"
    elif farm_reason:
        message = f"{tasks} {status} by the farm: {farm_reason}"
    else:
        message = f"{tasks} {status}"
    return Reason(status, status, message, count=count, by=by)
