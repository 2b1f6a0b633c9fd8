"""What the farm is doing, in one line: workers up, tasks running, assigned and queued.

A task is running once its worker reports it started; before that it is assigned (handed to a
worker, queued in its session or starting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..statuses import TERMINAL_TASK_RUN_STATUSES
from ._state import FarmState, admin_session, local_endpoint

ASSIGNED_STATUSES = ("ASSIGNED", "STARTING", "SCHEDULED")
QUEUED_STATUSES = ("READY", "PENDING")


@dataclass(frozen=True)
class TaskCounts:
    running: int = 0
    assigned: int = 0
    queued: int = 0
    succeeded: int = 0
    failed: int = 0
    active_jobs: int = 0


def admin_deadline_client(state: FarmState) -> Any:
    """A deadline client signed with the farm's admin key (independent of the user's AWS profile)."""
    from pathlib import Path

    from botocore.config import Config

    return admin_session(Path(state.data_dir), state.ca_bundle or None).client(
        "deadline",
        endpoint_url=local_endpoint(state.url),
        config=Config(
            inject_host_prefix=False, connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}
        ),
    )


def task_counts(deadline: Any, farm_id: str, queue_id: str, max_pages: int = 20) -> TaskCounts:
    """Task counts summed over the queue's jobs, from the counters the server keeps per job."""
    running = assigned = queued = succeeded = failed = active = 0
    token: str | None = None
    for _ in range(max_pages):
        page = deadline.list_jobs(
            farmId=farm_id, queueId=queue_id, maxResults=100, **({"nextToken": token} if token else {})
        )
        for job in page.get("jobs", []):
            counts: dict[str, int] = job.get("taskRunStatusCounts", {})
            running += counts.get("RUNNING", 0)
            assigned += sum(counts.get(status, 0) for status in ASSIGNED_STATUSES)
            queued += sum(counts.get(status, 0) for status in QUEUED_STATUSES)
            succeeded += counts.get("SUCCEEDED", 0)
            failed += counts.get("FAILED", 0)
            if job.get("taskRunStatus") not in TERMINAL_TASK_RUN_STATUSES:
                active += 1
        token = page.get("nextToken")
        if not token:
            break
    return TaskCounts(running, assigned, queued, succeeded, failed, active)


def status_line(state: FarmState, workers_alive: int, counts: TaskCounts | None) -> str:
    workers = f"workers {workers_alive}/{state.workers}"
    if counts is None:
        tasks = "tasks: server not answering"
    else:
        tasks = (
            f"running {counts.running} · assigned {counts.assigned} · queued {counts.queued} · "
            f"succeeded {counts.succeeded} · failed {counts.failed}"
        )
    return f"{workers} · {tasks}"
