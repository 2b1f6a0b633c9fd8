"""Retention: what the farm forgets, and when.

* Log events older than their log group's `retentionInDays` (PutRetentionPolicy) are deleted, by
  event timestamp, as CloudWatch Logs does; groups without a policy keep everything.
* Archived jobs (UpdateJob lifecycleStatus=ARCHIVED) are purged, with their steps, tasks, sessions,
  session logs and memberships, once they have been archived for `archived_job_days`
  (`--archived-job-retention-days`; unset keeps them).

Both run as the farm's housekeeping (one server at a time), in short transactions, a bounded number
of rows each, so a purge never holds up the farm's calls for long.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, func, select

from ..store import (
    Store,
    jobs,
    log_events,
    log_groups,
    log_streams,
    memberships,
    session_actions,
    sessions,
    step_dependencies,
    steps,
    tags,
    tasks,
)

log = logging.getLogger("farmhand.server")

DAY_SECONDS = 86400
ROWS_PER_TRANSACTION = 20_000
JOBS_PER_ROUND = 20


@dataclass(frozen=True)
class RetentionSettings:
    archived_job_days: float | None = None  # None: archived jobs are kept
    every_seconds: float = 600.0  # how often the housekeeping looks


def purge_expired_log_events(store: Store, *, now: dt.datetime) -> int:
    """Delete events older than their group's retention; returns how many."""
    now_ms = int(now.timestamp() * 1000)
    with store.read() as conn:
        groups = list(
            conn.execute(
                select(log_groups.c.log_group_name, log_groups.c.retention_in_days).where(
                    log_groups.c.retention_in_days.is_not(None)
                )
            )
        )
    purged = 0
    for group, days in groups:
        cutoff = now_ms - int(days) * DAY_SECONDS * 1000
        purged += _delete_in_batches(
            store,
            select(log_events.c.event_id).where(
                and_(log_events.c.log_group_name == group, log_events.c.timestamp < cutoff)
            ),
        )
    if purged:
        log.info("retention: %d log events past their groups' retention deleted", purged)
    return purged


def _delete_in_batches(store: Store, ids_query: Select[Any]) -> int:
    """Delete log events whose ids `ids_query` selects, ROWS_PER_TRANSACTION at a time."""
    deleted = 0
    while True:
        with store.write() as conn:
            ids = [r[0] for r in conn.execute(ids_query.limit(ROWS_PER_TRANSACTION))]
            if not ids:
                return deleted
            conn.execute(delete(log_events).where(log_events.c.event_id.in_(ids)))
            deleted += len(ids)


def purge_archived_jobs(store: Store, settings: RetentionSettings, *, now: dt.datetime) -> list[str]:
    """Purge jobs archived longer than the retention allows; returns their ids."""
    if settings.archived_job_days is None:
        return []
    cutoff = now - dt.timedelta(days=settings.archived_job_days)
    with store.read() as conn:
        expired = list(
            conn.execute(
                select(jobs.c.job_id, jobs.c.farm_id, jobs.c.queue_id)
                .where(and_(jobs.c.lifecycle_status == "ARCHIVED", jobs.c.updated_at < cutoff))
                .order_by(jobs.c.updated_at)
                .limit(JOBS_PER_ROUND)
            )
        )
    for job_id, farm_id, queue_id in expired:
        purge_job(store, job_id, farm_id, queue_id)
    if expired:
        log.info("retention: %d archived jobs purged", len(expired))
    return [str(r.job_id) for r in expired]


def purge_job(store: Store, job_id: str, farm_id: str, queue_id: str) -> None:
    """Everything of one job: session logs, actions, sessions, tasks, steps, memberships, the job."""
    group = f"/aws/deadline/{farm_id}/{queue_id}"
    with store.read() as conn:
        session_ids = [
            str(r[0]) for r in conn.execute(select(sessions.c.session_id).where(sessions.c.job_id == job_id))
        ]
        step_ids = [str(r[0]) for r in conn.execute(select(steps.c.step_id).where(steps.c.job_id == job_id))]
    for session_id in session_ids:
        in_stream = and_(log_events.c.log_group_name == group, log_events.c.log_stream_name == session_id)
        _delete_in_batches(store, select(log_events.c.event_id).where(in_stream))
        with store.write() as conn:
            conn.execute(
                delete(log_streams).where(
                    and_(log_streams.c.log_group_name == group, log_streams.c.log_stream_name == session_id)
                )
            )
    for step_id in step_ids:
        while True:
            with store.write() as conn:
                last = conn.execute(
                    select(func.min(tasks.c.task_index)).where(tasks.c.step_id == step_id)
                ).scalar()
                if last is None:
                    break
                conn.execute(
                    delete(tasks).where(
                        and_(
                            tasks.c.step_id == step_id, tasks.c.task_index < int(last) + ROWS_PER_TRANSACTION
                        )
                    )
                )
    with store.write() as conn:
        conn.execute(delete(session_actions).where(session_actions.c.job_id == job_id))
        conn.execute(delete(sessions).where(sessions.c.job_id == job_id))
        conn.execute(delete(step_dependencies).where(step_dependencies.c.job_id == job_id))
        conn.execute(delete(steps).where(steps.c.job_id == job_id))
        conn.execute(
            delete(memberships).where(
                and_(memberships.c.resource_kind == "job", memberships.c.resource_id == job_id)
            )
        )
        conn.execute(delete(tags).where(tags.c.resource_arn.endswith(f"/job/{job_id}", autoescape=True)))
        conn.execute(delete(jobs).where(jobs.c.job_id == job_id))
