"""`farmhand job logs --follow`: print a job's log lines as they arrive, stop when nothing more can come.

Workers ship log lines in batches, so a session's last lines may land a moment after the farm marks
it ended; a session is only done once it has ended and stayed quiet for a settle period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from configparser import ConfigParser
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

from ...statuses import TERMINAL_TASK_RUN_STATUSES

__all__ = ["follow_job_logs"]

POLL_SECONDS = 1.0
# Longer than a worker's log-shipping interval: an ended session quiet this long has nothing left.
SETTLE_SECONDS = 3.0
_PAGE = 10000


@dataclass
class _Tail:
    """How far one session's log has been printed."""

    token: str | None = None
    started: bool = False
    ended_seen_at: float | None = None
    done: bool = False


def follow_job_logs(
    config: ConfigParser,
    farm_id: str,
    queue_id: str,
    job_id: str,
    *,
    session_id: str | None,
    start_time: datetime | None,
    print_events: Callable[[list[Any], str], None],
    show_headers: bool,
) -> None:
    """Print every session's new lines (or only `session_id`'s) until the job and its sessions are done."""
    from .. import api

    deadline = api.get_boto3_client("deadline", config=config)
    tails: dict[str, _Tail] = {}
    current: str | None = None
    while True:
        job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        job_done = job.get("taskRunStatus") in TERMINAL_TASK_RUN_STATUSES
        if session_id:
            sessions = [
                deadline.get_session(farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id)
            ]
        else:
            sessions = []
            for page in deadline.get_paginator("list_sessions").paginate(
                farmId=farm_id, queueId=queue_id, jobId=job_id
            ):
                sessions += page.get("sessions", [])
            sessions.sort(key=lambda s: s.get("startedAt") or datetime.max.replace(tzinfo=UTC))
        for session in sessions:
            sid = str(session["sessionId"])
            tail = tails.setdefault(sid, _Tail())
            if tail.done:
                continue
            printed = 0
            while True:
                result = api.get_session_logs(
                    farm_id,
                    queue_id,
                    session_id=sid,
                    limit=_PAGE,
                    start_time=None if tail.started else start_time,
                    next_token=tail.token,
                    config=config,
                )
                if result.next_token:
                    tail.token, tail.started = result.next_token, True
                if result.events:
                    if show_headers and len(sessions) > 1 and current != sid:
                        click.echo(f"==> {sid} ({session.get('workerId', '')}) <==")
                    current = sid
                    print_events(result.events, sid)
                    printed += len(result.events)
                if len(result.events) < _PAGE:
                    break
            if session.get("endedAt") is not None:
                now = time.monotonic()
                tail.ended_seen_at = tail.ended_seen_at or now
                tail.done = printed == 0 and now - tail.ended_seen_at >= SETTLE_SECONDS
        if session_id:
            if all(tail.done for tail in tails.values()):
                return
        elif job_done and all(tails.get(str(s["sessionId"]), _Tail()).done for s in sessions):
            return
        time.sleep(POLL_SECONDS)
