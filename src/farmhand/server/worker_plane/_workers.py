"""Worker registration and status changes (spec §2.13, §5.8, §5.9).

Status flow: CREATED → STARTED (UpdateWorker) ⇄ IDLE/RUNNING (derived by the scheduler) → STOPPING
→ STOPPED; NOT_RESPONDING when heartbeats stop. STARTED is accepted from CREATED, STOPPED,
NOT_RESPONDING and the online states (a restarted agent: the sessions it still owned are closed and
their tasks go back to READY); from STOPPING or NOT_COMPATIBLE the agent must pass through STOPPED
first, and gets `ConflictException(STATUS_CONFLICT, context.status)` otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.engine import Row

from ...statuses import ONLINE_WORKER_STATUSES
from ..store import workers
from ._schedule import status_conflict
from ._sessions import abandon_sessions

STARTABLE_FROM = ("CREATED", "STOPPED", "NOT_RESPONDING", *ONLINE_WORKER_STATUSES)
STOPPABLE_FROM = (*ONLINE_WORKER_STATUSES, "STOPPING", "NOT_RESPONDING")


def change_worker_status(
    conn: Connection,
    worker: Row[Any],
    status: str | None,
    *,
    now: dt.datetime,
    by: str,
    extra: dict[str, Any],
) -> bool:
    """Apply UpdateWorker; returns True when sessions were closed (their tasks are free again)."""
    values: dict[str, Any] = {"updated_at": now, "updated_by": by, **extra}
    released = False
    if status == "STARTED":
        if worker.status not in STARTABLE_FROM:
            raise status_conflict(
                worker.worker_id,
                worker.status,
                f"Worker {worker.worker_id} is {worker.status}; set it STOPPED before STARTED",
            )
        released = abandon_sessions(conn, worker.worker_id, now=now, action_status="INTERRUPTED") > 0
        values["status"] = "STARTED"
        values["last_seen_at"] = now
    elif status == "STOPPING":
        if worker.status not in STOPPABLE_FROM:
            raise status_conflict(
                worker.worker_id,
                worker.status,
                f"Worker {worker.worker_id} is {worker.status}; it cannot be STOPPING",
            )
        values["status"] = "STOPPING"
        values["last_seen_at"] = now
    elif status == "STOPPED":
        released = abandon_sessions(conn, worker.worker_id, now=now, action_status="INTERRUPTED") > 0
        values["status"] = "STOPPED"
    conn.execute(update(workers).where(workers.c.worker_id == worker.worker_id).values(**values))
    return released
