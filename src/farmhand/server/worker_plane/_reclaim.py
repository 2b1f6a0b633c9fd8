"""Housekeeping: reclaim work from silent workers, and mark steps no fleet can ever run.

A worker that has not called UpdateWorkerSchedule for `worker_timeout` seconds (configurable with
`--worker-timeout-seconds`; default max(60 s, 5 x poll interval)), or was registered that long ago
and never started (CREATED), becomes NOT_RESPONDING: its open
actions are RECLAIMED, its sessions ENDED, its tasks READY again without counting a failure. Its next
UpdateWorkerSchedule gets `ConflictException(STATUS_CONFLICT)`, and its next UpdateWorker(STARTED)
brings it back.

A step with host requirements that no fleet associated with its queue meets, by the capabilities the
fleets declare (the workers registered in them do not count, as in Deadline Cloud), gets its READY and
PENDING tasks NOT_COMPATIBLE. Queues without any association are left alone: a fleet may be added
later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update

from ..jobs import set_task_status
from ..scheduler import (
    fleet_can_satisfy,
    fleet_capabilities_from_api,
    requirements_from_api,
    worker_timeout,
)
from ..store import count_column, resources, steps, tasks, workers
from ._schedule import SCHEDULABLE_WORKER_STATUSES
from ._sessions import abandon_sessions
from ._signal import work_signal

if TYPE_CHECKING:
    from .._runtime import ServerRuntime

log = logging.getLogger("farmhand.server.worker_plane")
ASSOCIATION_KIND = "queue-fleet-association"


def timeout_of(runtime: ServerRuntime) -> float:
    config = runtime.config
    return worker_timeout(config.worker_timeout_seconds, idle_interval=config.idle_update_interval_seconds)


def reclaim_silent_workers(runtime: ServerRuntime, *, now: dt.datetime | None = None) -> list[str]:
    """Mark silent workers NOT_RESPONDING and free their work; returns their ids."""
    now = now or dt.datetime.now(dt.UTC)
    timeout = timeout_of(runtime)
    started = runtime.housekeeping_since
    if started is not None and (now - started).total_seconds() < timeout:
        # A restarted server (or one that just took over the farm's housekeeping) gives every
        # worker a full timeout to call in again.
        return []
    cutoff = now - dt.timedelta(seconds=timeout)
    reclaimed: list[str] = []
    is_silent = or_(
        and_(
            workers.c.status.in_(SCHEDULABLE_WORKER_STATUSES),
            or_(workers.c.last_seen_at < cutoff, workers.c.last_seen_at.is_(None)),
        ),
        # Registered, never started (its agent failed before UpdateWorker(STARTED)): as silent.
        and_(workers.c.status == "CREATED", workers.c.created_at < cutoff),
    )
    with runtime.store.read() as conn:  # the common case: nobody is silent, no write lock taken
        if conn.execute(select(workers.c.worker_id).where(is_silent).limit(1)).first() is None:
            return reclaimed
    with runtime.store.write() as conn:
        silent = list(conn.execute(select(workers.c.worker_id).where(is_silent)))
        for row in silent:
            abandon_sessions(conn, row.worker_id, now=now, action_status="RECLAIMED")
            conn.execute(
                update(workers)
                .where(workers.c.worker_id == row.worker_id)
                .values(status="NOT_RESPONDING", updated_at=now)
            )
            reclaimed.append(row.worker_id)
    if reclaimed:
        log.warning("workers not responding, their work reclaimed: %s", ", ".join(reclaimed))
        work_signal(runtime).notify()
    return reclaimed


class CompatibilityChecker:
    """Finds steps no associated fleet can run; remembers the steps already found runnable."""

    def __init__(self) -> None:
        self.runnable: set[str] = set()

    def __call__(self, runtime: ServerRuntime) -> int:
        marked = 0
        impossible: list[tuple[str, str]] = []
        with runtime.store.read() as conn:
            waiting = or_(steps.c[count_column("READY")] > 0, steps.c[count_column("PENDING")] > 0)
            candidates = [
                s
                for s in conn.execute(
                    select(
                        steps.c.step_id,
                        steps.c.job_id,
                        steps.c.queue_id,
                        steps.c.farm_id,
                        steps.c.required_capabilities,
                    ).where(and_(steps.c.required_capabilities.is_not(None), waiting))
                )
                if s.step_id not in self.runnable
            ]
            if not candidates:
                return 0
            fleets_of: dict[str, list[str]] = defaultdict(list)
            for a in conn.execute(
                select(resources.c.parent_id, resources.c.ref_id).where(resources.c.kind == ASSOCIATION_KIND)
            ):
                fleets_of[str(a.parent_id)].append(str(a.ref_id))
            fleet_docs = {
                str(r.resource_id): r.doc
                for r in conn.execute(
                    select(resources.c.resource_id, resources.c.doc).where(resources.c.kind == "fleet")
                )
            }
            for step in candidates:
                fleet_ids = fleets_of.get(step.queue_id, [])
                if not fleet_ids:
                    continue
                wanted = requirements_from_api(step.required_capabilities)
                possible = any(
                    fleet_can_satisfy(
                        fleet_capabilities_from_api((fleet_docs.get(f) or {}).get("capabilities")), wanted
                    )
                    for f in fleet_ids
                )
                if possible:
                    self.runnable.add(step.step_id)
                    continue
                impossible.append((step.job_id, step.step_id))
        if not impossible:
            return 0
        with runtime.store.write() as conn:
            for job_id, step_id in impossible:
                ids = [
                    r.task_id
                    for r in conn.execute(
                        select(tasks.c.task_id).where(
                            and_(tasks.c.step_id == step_id, tasks.c.run_status.in_(("READY", "PENDING")))
                        )
                    )
                ]
                marked += set_task_status(
                    conn,
                    job_id,
                    ids,
                    "NOT_COMPATIBLE",
                    now=dt.datetime.now(dt.UTC),
                    only_from=("READY", "PENDING"),
                )
        return marked


HOUSEKEEPING_INTERVAL_SECONDS = 1.0


def start_worker_plane(runtime: ServerRuntime) -> None:
    """Register the worker plane's housekeeping (reclaim, compatibility), once per runtime; with
    several servers on one database, the one keeping house runs it."""
    if not runtime.claim_start("worker plane"):
        return
    checker = CompatibilityChecker()
    interval = min(HOUSEKEEPING_INTERVAL_SECONDS, max(0.2, timeout_of(runtime) / 4))

    def housekeeping() -> None:
        reclaim_silent_workers(runtime)
        checker(runtime)

    runtime.housekeeping(interval, housekeeping, "worker-plane housekeeping")
    # Every server writes the heartbeats of the idle polls it answered without a transaction.
    runtime.every(runtime.idle_polls.flush_interval, runtime.idle_polls.flush, "worker heartbeats")
