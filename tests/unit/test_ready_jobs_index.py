"""A worker's poll reads only the jobs that have READY tasks (the partial index ix_jobs_ready), not
every job its queues ever had. A real SQLite store; the plan is SQLite's own."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from farmhand.server.store import Store, jobs
from farmhand.server.worker_plane._assign import job_options

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def job(n: int, *, ready: int) -> dict[str, object]:
    return {
        "job_id": f"job-{n:032x}",
        "farm_id": "farm-1",
        "queue_id": "queue-1",
        "name": f"job {n}",
        "priority": n % 100,
        "lifecycle_status": "CREATE_COMPLETE",
        "lifecycle_status_message": "created",
        "task_run_status": "READY" if ready else "SUCCEEDED",
        "template": "{}",
        "template_type": "JSON",
        "created_at": NOW,
        "created_by": "someone",
        "count_ready": ready,
        "count_succeeded": 0 if ready else 1,
    }


def test_the_poll_reads_the_jobs_with_ready_tasks_through_their_index(store: Store) -> None:
    # Given a queue of 500 finished jobs and 2 with READY tasks
    with store.write() as conn:
        conn.execute(insert(jobs), [job(n, ready=3 if n in (7, 300) else 0) for n in range(500)])
    with store.read() as conn:
        # When a poll looks for work
        options = job_options(conn, ["queue-1"])
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT job_id FROM jobs WHERE queue_id IN ('queue-1') AND count_ready > 0"
        ).fetchall()
    # Then it finds exactly those, by priority, and SQLite reads them through the partial index
    assert [o.job_id for o in options] == [f"job-{7:032x}", f"job-{300:032x}"]
    assert any("ix_jobs_ready" in str(row) for row in plan)
