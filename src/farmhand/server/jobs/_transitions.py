"""Task status transitions, counter maintenance and the roll-up of task states into steps and jobs.

Every change of a task's `run_status` goes through this module so that the per-status counter
columns of its step and job stay exact (they are updated in SQL, grouped by the tasks' actual old
status, in the same transaction) and the step and job `task_run_status` follow at once.

How task states roll up (spec §2.11), applied to a step's counters and to the job's counters:

1. If any task is active, the status is the most advanced active state, in the order
   RUNNING > INTERRUPTING > STARTING > SCHEDULED > ASSIGNED > READY.
2. Else, if any task is PENDING and can still become ready, PENDING. A PENDING task can still become
   ready while every upstream step of its step is SUCCEEDED or still able to run (active, or itself
   PENDING and able to run). An upstream step that ended FAILED, CANCELED, SUSPENDED or
   NOT_COMPATIBLE blocks its consumers: their PENDING tasks no longer keep the job open.
3. Else the status is terminal: FAILED if any task failed, else CANCELED if any was canceled, else
   SUSPENDED if any is suspended, else NOT_COMPATIBLE if any is, else SUCCEEDED. A step whose only
   unfinished tasks are blocked PENDING tasks reports the status of what blocks it (the most severe
   of its blocking upstream steps, in the same order).

Dependencies resolve here too: when every upstream step of a step is SUCCEEDED, that step's PENDING
tasks become READY. `startedAt` is set once (when a task first starts) and never reset; `endedAt` is
set when the step or job becomes terminal and cleared when it becomes active again.

User updates that touch tasks currently ASSIGNED/STARTING/SCHEDULED/RUNNING never move them
directly: they become INTERRUPTING with `target_run_status` set to the wanted status; the worker
plane cancels their session actions and, once the worker reports, calls
`set_task_status(..., task.target_run_status)`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, func, literal, select, update

from ...statuses import (
    ACTIVE_TASK_RUN_STATUSES,
    BLOCKING_TASK_RUN_STATUSES,
    HELD_TASK_RUN_STATUSES,
    TERMINAL_TASK_RUN_STATUSES,
    WORKER_HELD_TASK_RUN_STATUSES,
)
from .._ids import task_key
from ..store import (
    TASK_RUN_STATUSES,
    Epoch,
    count_column,
    jobs,
    step_dependencies,
    steps,
    task_is,
    tasks,
    tasks_in,
    tasks_of_job,
)

#: Task statuses that count as a finished run.
_RUN_RESULTS = frozenset(("SUCCEEDED", "FAILED"))
#: The targets a user may ask for (UpdateJob/UpdateStep/UpdateTask).
USER_TARGETS = ("READY", "FAILED", "SUCCEEDED", "CANCELED", "SUSPENDED", "PENDING")
#: For each user target: the task states it moves (everything else in scope is left alone).
_TARGET_FROM: dict[str, frozenset[str]] = {
    "READY": frozenset(("PENDING", "SUSPENDED", "CANCELED", "FAILED", "NOT_COMPATIBLE")),
    "PENDING": frozenset(TASK_RUN_STATUSES),
    "CANCELED": frozenset(TASK_RUN_STATUSES) - {"SUCCEEDED", "FAILED", "CANCELED"},
    "FAILED": frozenset(TASK_RUN_STATUSES) - {"SUCCEEDED", "FAILED"},
    "SUCCEEDED": frozenset(TASK_RUN_STATUSES) - {"SUCCEEDED"},
    "SUSPENDED": frozenset(TASK_RUN_STATUSES) - {"SUCCEEDED", "CANCELED", "FAILED", "SUSPENDED"},
}
DEFAULT_MAX_RETRIES_PER_TASK = 5
_IN_CHUNK = 500
#: What a roll-up reads of a job, and of each step (the counters and the columns it may change).
_ROLLUP_COLUMNS = (
    jobs.c.task_run_status,
    jobs.c.ended_at,
    *(jobs.c[count_column(s)] for s in TASK_RUN_STATUSES),
)
_STEP_ROLLUP_COLUMNS = (
    steps.c.step_id,
    steps.c.task_run_status,
    steps.c.ended_at,
    *(steps.c[count_column(s)] for s in TASK_RUN_STATUSES),
)
# A roll-up's read and its most common writes (only the status changes), built once: every schedule
# call that hands out or settles work runs them.
_STEP_ROLLUPS = (
    select(*_STEP_ROLLUP_COLUMNS)
    .where(steps.c.job_id == bindparam("rollup_job"))
    .order_by(steps.c.step_index)
)
_STEP_STATUS = (
    update(steps)
    .where(steps.c.step_id == bindparam("status_of"))
    .values(task_run_status=bindparam("new_status"))
)
_JOB_STATUS = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("status_of"))
    .values(task_run_status=bindparam("new_status"))
)


def rollup(counts: Mapping[str, int], *, pending_can_run: bool = True, blocked_by: str | None = None) -> str:
    """The roll-up status of a set of tasks given their per-status counts (rules in the module doc)."""
    for status in ACTIVE_TASK_RUN_STATUSES:
        if counts.get(status, 0) > 0:
            return status
    if counts.get("PENDING", 0) > 0:
        if pending_can_run:
            return "PENDING"
        for status in BLOCKING_TASK_RUN_STATUSES:  # by precedence: the first one present wins
            if counts.get(status, 0) > 0:
                return status
        return blocked_by or "CANCELED"
    for status in BLOCKING_TASK_RUN_STATUSES:  # by precedence: the first one present wins
        if counts.get(status, 0) > 0:
            return status
    return "SUCCEEDED"


def _counts_of(row: Any) -> dict[str, int]:
    mapping = row._mapping
    return {s: int(mapping[count_column(s)] or 0) for s in TASK_RUN_STATUSES}


def lock_job(conn: Connection, job_id: str) -> Any:
    """Take the job's row lock (PostgreSQL) so transitions of one job never interleave; its row."""
    row = conn.execute(select(jobs).where(jobs.c.job_id == job_id).with_for_update()).first()
    _locked_jobs(conn).add(job_id)
    return row


def hold_job(conn: Connection, job_id: str) -> None:
    """Make sure this transaction holds the job's row lock, without reading the row.

    A lock is held until the transaction ends, so it is taken once per job and transaction. SQLite
    has no row locks (its writers are serialised), so there is nothing to take.
    """
    if conn.dialect.name == "sqlite":
        return
    held = _locked_jobs(conn)
    if job_id not in held:
        conn.execute(select(jobs.c.job_id).where(jobs.c.job_id == job_id).with_for_update())
        held.add(job_id)


_LOCKED_JOBS = "farmhand.locked_jobs"


def _locked_jobs(conn: Connection) -> set[str]:
    """The jobs whose row lock the connection's current transaction holds."""
    transaction = conn.get_transaction()
    memo = conn.info.get(_LOCKED_JOBS)
    if memo is None or memo[0] is not transaction:
        memo = (transaction, set())
        conn.info[_LOCKED_JOBS] = memo
    held: set[str] = memo[1]
    return held


def _in_chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _move(
    conn: Connection,
    job_id: str,
    where: ColumnElement[bool],
    status: str,
    *,
    now: dt.datetime,
    by: str | None,
    target: str | None = None,
    reset: bool = False,
    deltas: Sequence[tuple[str, str, int, int]] | None = None,
) -> tuple[int, set[str], Any]:
    """Move the tasks matching `where` (not already in `status`) and shift the counters accordingly.

    `deltas`, when given, are what the tasks matching `where` are, as the count would read them:
    (step id, status, how many, lowest index). Returns how many moved, their steps, and the job's
    roll-up columns after the move (None when nothing moved), so the roll-up that follows need not
    read the job row again.
    """
    scope = and_(tasks.c.job_id == job_id, where, tasks.c.run_status != status)
    if deltas is None:
        deltas = conn.execute(
            select(tasks.c.step_id, tasks.c.run_status, func.count(), func.min(tasks.c.task_index))
            .where(scope)
            .group_by(tasks.c.step_id, tasks.c.run_status)
        ).all()
    if not deltas:
        return 0, set(), None
    values: dict[str, Any] = {
        "run_status": status,
        "target_run_status": target,
        "updated_at": now,
    }
    if by is not None:
        values["updated_by"] = by
    if status == "RUNNING":
        values["started_at"] = func.coalesce(tasks.c.started_at, literal(now, Epoch()))
    elif status in _RUN_RESULTS:
        # A short task can finish within one worker poll, never reported RUNNING on its own:
        # a task that was held by a worker has still started.
        values["started_at"] = case(
            (
                and_(tasks.c.run_status.in_(HELD_TASK_RUN_STATUSES), tasks.c.started_at.is_(None)),
                literal(now, Epoch()),
            ),
            else_=tasks.c.started_at,
        )
    if status in TERMINAL_TASK_RUN_STATUSES:  # a task's `endedAt` is set on entering one
        values["ended_at"] = now
    elif status != "INTERRUPTING":
        values["ended_at"] = None
    if reset:
        values["failure_retry_count"] = 0
        values["started_at"] = None
        values["ended_at"] = None
    conn.execute(update(tasks).where(scope).values(**values))
    per_step: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_job: dict[str, int] = defaultdict(int)
    moved = 0
    lowest: dict[str, int] = {}
    for step_id, old, n, first in deltas:
        lowest[step_id] = min(lowest.get(step_id, first), first)
        per_step[step_id][old] -= n
        per_step[step_id][status] += n
        per_job[old] -= n
        per_job[status] += n
        moved += n
    # A task that ran starts its step and job (`startedAt` is set once), in the counters' statement.
    ran = status == "RUNNING" or (
        status in _RUN_RESULTS and any(old in HELD_TASK_RUN_STATUSES for _, old, _, _ in deltas)
    )
    for step_id, delta in per_step.items():
        shifted = _shift(steps, delta)
        if status == "READY":  # keep `ready_from` a lower bound of the step's READY indexes
            shifted["ready_from"] = case(
                (steps.c.ready_from > lowest[step_id], lowest[step_id]), else_=steps.c.ready_from
            )
        if ran:
            shifted["started_at"] = func.coalesce(steps.c.started_at, literal(now, Epoch()))
        conn.execute(update(steps).where(steps.c.step_id == step_id).values(**shifted))
    job_values = _shift(jobs, per_job)
    if ran:
        job_values["started_at"] = func.coalesce(jobs.c.started_at, literal(now, Epoch()))
    job = conn.execute(
        update(jobs).where(jobs.c.job_id == job_id).values(**job_values).returning(*_ROLLUP_COLUMNS)
    ).first()
    return moved, set(per_step), job


def _shift(table: Any, delta: Mapping[str, int]) -> dict[str, Any]:
    return {count_column(s): table.c[count_column(s)] + n for s, n in delta.items() if n != 0}


def set_task_status(
    conn: Connection,
    job_id: str,
    task_ids: Sequence[str],
    status: str,
    *,
    now: dt.datetime,
    by: str | None = None,
    only_from: Collection[str] | None = None,
    held_by: Collection[str] | None = None,
    known_status: str | None = None,
) -> int:
    """Move tasks of a job to `status` (only those now in `only_from`, when given, and only those
    whose latest session action is one of `held_by`, when given).

    `known_status`: the caller has read, in this transaction and under the job's lock, that every
    one of `task_ids` is in this status (a claim of the READY tasks it just found), so how many move
    from each step is taken from the ids instead of being counted again.

    Counters, step/job roll-ups, timestamps and dependency resolution follow in the same
    transaction. Returns how many tasks actually moved.
    """
    if status not in TASK_RUN_STATUSES:
        raise ValueError(f"unknown task run status {status!r}")
    hold_job(conn, job_id)
    moved = 0
    job = None
    ids = list(dict.fromkeys(task_ids))
    for chunk in _in_chunks(ids):
        where: ColumnElement[bool] = tasks_in(chunk)
        if only_from is not None:
            where = and_(where, tasks.c.run_status.in_(list(only_from)))
        if held_by is not None:
            where = and_(where, tasks.c.latest_session_action_id.in_(list(held_by)))
        known = _deltas_of(chunk, known_status, status) if known_status is not None else None
        n, _, rolled = _move(conn, job_id, where, status, now=now, by=by, deltas=known)
        job = rolled or job
        moved += n
    if moved:
        refresh_job(conn, job_id, now=now, job=job)
    return moved


def _deltas_of(task_ids: Sequence[str], known_status: str, status: str) -> list[tuple[str, str, int, int]]:
    """(step id, status, count, lowest index) of tasks all known to be in `known_status`, as `_move`
    would count them on their way to `status` (none when they are in it already)."""
    if known_status == status:
        return []
    indexes: dict[str, list[int]] = defaultdict(list)
    for task_id in task_ids:
        key = task_key(task_id)
        if key is not None:
            indexes[key[0]].append(key[1])
    return [(step_id, known_status, len(found), min(found)) for step_id, found in indexes.items()]


def record_task_failure(conn: Connection, job_id: str, task_id: str, *, now: dt.datetime) -> str:
    """Apply the retry policy to a failed task run; returns the task's new status.

    The task goes back to READY (one more retry counted) while it has had fewer than
    `maxRetriesPerTask` retries (default 5), else it is FAILED: at most 1 + maxRetriesPerTask runs.
    Once the job has `maxFailedTasksCount` FAILED tasks, its remaining unfinished tasks are
    canceled (running ones through INTERRUPTING).
    """
    job = lock_job(conn, job_id)
    if job is None:
        raise LookupError(job_id)
    task = conn.execute(
        select(
            tasks.c.step_id, tasks.c.failure_retry_count, tasks.c.run_status, tasks.c.target_run_status
        ).where(and_(task_is(task_id), tasks.c.job_id == job_id))
    ).first()
    if task is None:
        raise LookupError(task_id)
    if task.run_status == "INTERRUPTING" and task.target_run_status:
        # The user asked for another status while the run was failing: that wish wins.
        _move(conn, job_id, task_is(task_id), task.target_run_status, now=now, by=None)
        refresh_job(conn, job_id, now=now)
        return str(task.target_run_status)
    if task.run_status not in WORKER_HELD_TASK_RUN_STATUSES:
        # A late report about a run the task has moved on from (requeued, canceled): nothing to count.
        return str(task.run_status)
    max_retries = job.max_retries_per_task
    limit = DEFAULT_MAX_RETRIES_PER_TASK if max_retries is None else int(max_retries)
    # `failureRetryCount` counts retries granted: a task runs at most 1 + maxRetriesPerTask times.
    new_status = "READY" if int(task.failure_retry_count or 0) < limit else "FAILED"
    if new_status == "READY":
        conn.execute(
            update(tasks).where(task_is(task_id)).values(failure_retry_count=tasks.c.failure_retry_count + 1)
        )
        conn.execute(
            update(steps)
            .where(steps.c.step_id == task.step_id)
            .values(task_failure_retry_count=steps.c.task_failure_retry_count + 1)
        )
        conn.execute(
            update(jobs)
            .where(jobs.c.job_id == job_id)
            .values(task_failure_retry_count=jobs.c.task_failure_retry_count + 1)
        )
    if new_status == "READY" and job.target_task_run_status == "SUSPENDED":
        new_status = "SUSPENDED"
    _move(conn, job_id, task_is(task_id), new_status, now=now, by=None)
    if new_status == "FAILED" and job.max_failed_tasks_count is not None:
        failed = conn.execute(select(jobs.c[count_column("FAILED")]).where(jobs.c.job_id == job_id)).scalar()
        if int(failed or 0) >= int(job.max_failed_tasks_count):
            _apply_target(conn, job_id, tasks_of_job(job_id), "CANCELED", now=now, by=None)
    refresh_job(conn, job_id, now=now)
    return new_status


def request_tasks_status(
    conn: Connection,
    job_id: str,
    target: str,
    *,
    now: dt.datetime,
    by: str | None,
    step_id: str | None = None,
    task_ids: Sequence[str] | None = None,
) -> int:
    """A user's wish that the tasks of a job (or of one step, or the given tasks) reach `target`.

    Tasks a worker holds are interrupted (INTERRUPTING + `target_run_status`); the others move now.
    Returns the number of tasks changed.
    """
    if target not in USER_TARGETS:
        raise ValueError(f"{target!r} is not a status a user may ask for")
    lock_job(conn, job_id)
    changed = 0
    if task_ids is not None:
        for chunk in _in_chunks(list(dict.fromkeys(task_ids))):
            changed += _apply_target(conn, job_id, tasks_in(chunk), target, now=now, by=by)
    else:
        where: ColumnElement[bool] = tasks_of_job(job_id) if step_id is None else tasks.c.step_id == step_id
        changed = _apply_target(conn, job_id, where, target, now=now, by=by)
    refresh_job(conn, job_id, now=now)
    return changed


def _apply_target(
    conn: Connection,
    job_id: str,
    where: ColumnElement[bool],
    target: str,
    *,
    now: dt.datetime,
    by: str | None,
) -> int:
    movable = _TARGET_FROM[target]
    changed = 0
    if target in ("PENDING", "READY"):
        # Per step: PENDING while its dependencies are unresolved, READY otherwise.
        in_scope = {
            r.step_id
            for r in conn.execute(
                select(tasks.c.step_id).where(and_(tasks.c.job_id == job_id, where)).distinct()
            )
        }
        step_ids = [sid for sid in _job_step_order(conn, job_id) if sid in in_scope]
        for sid in step_ids:
            # Upstream steps are handled first, so their reset is seen here.
            wanted = "READY" if _dependencies_resolved(conn, job_id).get(sid, True) else "PENDING"
            in_step = and_(where, tasks.c.step_id == sid)
            idle = [s for s in movable if s not in HELD_TASK_RUN_STATUSES]
            reset = target == "PENDING"
            n, _, _ = _move(
                conn, job_id, and_(in_step, tasks.c.run_status.in_(idle)), wanted, now=now, by=by, reset=reset
            )
            changed += n
            if reset:
                conn.execute(
                    update(tasks)
                    .where(and_(tasks.c.job_id == job_id, in_step, tasks.c.run_status == wanted))
                    .values(failure_retry_count=0, started_at=None, ended_at=None)
                )
            changed += _interrupt(
                conn, job_id, and_(in_step, tasks.c.run_status.in_(movable)), wanted, now, by
            )
        return changed
    idle = [s for s in movable if s not in HELD_TASK_RUN_STATUSES]
    n, _, _ = _move(conn, job_id, and_(where, tasks.c.run_status.in_(idle)), target, now=now, by=by)
    changed += n
    changed += _interrupt(conn, job_id, and_(where, tasks.c.run_status.in_(movable)), target, now, by)
    return changed


def _interrupt(
    conn: Connection, job_id: str, where: ColumnElement[bool], target: str, now: dt.datetime, by: str | None
) -> int:
    """Ask the worker plane to stop tasks a worker holds; they land on `target` when it reports."""
    holding = and_(where, tasks.c.run_status.in_(WORKER_HELD_TASK_RUN_STATUSES))
    n, _, _ = _move(conn, job_id, holding, "INTERRUPTING", now=now, by=by, target=target)
    retarget = conn.execute(
        update(tasks)
        .where(and_(tasks.c.job_id == job_id, where, tasks.c.run_status == "INTERRUPTING"))
        .values(target_run_status=target)
    )
    return max(n, int(retarget.rowcount or 0))


def _job_step_order(conn: Connection, job_id: str) -> list[str]:
    """The job's steps, each after its upstream steps."""
    ordered = [
        r.step_id
        for r in conn.execute(
            select(steps.c.step_id).where(steps.c.job_id == job_id).order_by(steps.c.step_index)
        )
    ]
    upstream: dict[str, list[str]] = defaultdict(list)
    for dep in conn.execute(select(step_dependencies).where(step_dependencies.c.job_id == job_id)):
        upstream[dep.step_id].append(dep.depends_on_step_id)
    return _topological(ordered, upstream)


def _dependencies_resolved(conn: Connection, job_id: str) -> dict[str, bool]:
    """For each step of the job: are all of its upstream steps SUCCEEDED (in their current counters)?"""
    step_rows = {r.step_id: r for r in conn.execute(select(steps).where(steps.c.job_id == job_id))}
    upstream: dict[str, list[str]] = defaultdict(list)
    for dep in conn.execute(select(step_dependencies).where(step_dependencies.c.job_id == job_id)):
        upstream[dep.step_id].append(dep.depends_on_step_id)
    resolved: dict[str, bool] = {}
    for sid in step_rows:
        resolved[sid] = all(_all_succeeded(step_rows[u]) for u in upstream.get(sid, []) if u in step_rows)
    return resolved


def _all_succeeded(step_row: Any) -> bool:
    counts = _counts_of(step_row)
    total = sum(counts.values())
    return total > 0 and counts["SUCCEEDED"] == total


def refresh_job(conn: Connection, job_id: str, *, now: dt.datetime, job: Any = None) -> str:
    """Recompute the roll-ups of every step (in dependency order) and of the job; resolve dependencies.

    `job`, when given, holds the job's current roll-up columns (as `_move` returns them), so the row
    is not read again. Returns the job's new `task_run_status`.
    """
    step_rows = {r.step_id: r for r in conn.execute(_STEP_ROLLUPS, {"rollup_job": job_id})}
    upstream: dict[str, list[str]] = defaultdict(list)
    if len(step_rows) > 1:  # a job of one step has no dependencies
        for dep in conn.execute(select(step_dependencies).where(step_dependencies.c.job_id == job_id)):
            if dep.depends_on_step_id in step_rows:
                upstream[dep.step_id].append(dep.depends_on_step_id)
    status: dict[str, str] = {}
    pending_can_run: dict[str, bool] = {}
    counts: dict[str, dict[str, int]] = {sid: _counts_of(row) for sid, row in step_rows.items()}
    for sid in _topological(list(step_rows), upstream):
        ups = upstream.get(sid, [])
        if counts[sid]["PENDING"] and ups and all(status[u] == "SUCCEEDED" for u in ups):
            _, _, rolled = _move(
                conn,
                job_id,
                and_(tasks.c.step_id == sid, tasks.c.run_status == "PENDING"),
                "READY",
                now=now,
                by=None,
            )
            job = rolled or job
            counts[sid]["READY"] += counts[sid]["PENDING"]
            counts[sid]["PENDING"] = 0
        blockers = {status[u] for u in ups if status[u] in BLOCKING_TASK_RUN_STATUSES}
        can_run = not blockers
        blocked_by = next((s for s in BLOCKING_TASK_RUN_STATUSES if s in blockers), None)
        pending_can_run[sid] = can_run
        status[sid] = rollup(counts[sid], pending_can_run=can_run, blocked_by=blocked_by)
        row = step_rows[sid]
        terminal = status[sid] in TERMINAL_TASK_RUN_STATUSES
        values: dict[str, Any] = {}
        if status[sid] != row.task_run_status:
            values["task_run_status"] = status[sid]
        if terminal and row.ended_at is None:
            values["ended_at"] = now
        elif not terminal and row.ended_at is not None:
            values["ended_at"] = None
        if values.keys() == {"task_run_status"}:
            conn.execute(_STEP_STATUS, {"status_of": sid, "new_status": values["task_run_status"]})
        elif values:
            conn.execute(update(steps).where(steps.c.step_id == sid).values(**values))
    if job is None:
        job = conn.execute(select(*_ROLLUP_COLUMNS).where(jobs.c.job_id == job_id)).first()
    if job is None:
        raise LookupError(job_id)
    job_counts = _counts_of(job)
    any_runnable_pending = any(counts[s]["PENDING"] and pending_can_run[s] for s in counts)
    job_status = rollup(job_counts, pending_can_run=any_runnable_pending)
    values = {}
    if job_status != job.task_run_status:
        values["task_run_status"] = job_status
    terminal = job_status in TERMINAL_TASK_RUN_STATUSES
    if terminal and job.ended_at is None:
        values["ended_at"] = now
    elif not terminal and job.ended_at is not None:
        values["ended_at"] = None
    if values.keys() == {"task_run_status"}:
        conn.execute(_JOB_STATUS, {"status_of": job_id, "new_status": job_status})
    elif values:
        conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(**values))
    return job_status


def _topological(step_ids: list[str], upstream: Mapping[str, list[str]]) -> list[str]:
    """Steps ordered so that every step comes after its upstream steps (template order otherwise)."""
    done: set[str] = set()
    order: list[str] = []

    def visit(sid: str, trail: frozenset[str]) -> None:
        if sid in done or sid in trail:
            return
        for u in upstream.get(sid, []):
            visit(u, trail | {sid})
        done.add(sid)
        order.append(sid)

    for sid in step_ids:
        visit(sid, frozenset())
    return order
