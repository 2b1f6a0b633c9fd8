"""A task's process tree never outlives its worker agent, even one killed with SIGKILL.

The task builds a tree the agent does not know about: background children, a grandchild, a daemon
that left the task's session (double fork + setsid) and a child that dropped the environment
(`env -i`). Once the agent is killed they must all be gone within seconds, and the task must then
run to SUCCEEDED exactly once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _worker_farm import Farm, job_template, step

from _workstation import Workstation, pids_alive, workstation
from farmhand.testing import ServerProcess, WorkerProcess

__all__ = ["workstation"]

pytestmark = pytest.mark.timeout(300)

GONE_WITHIN_SECONDS = 10.0


def tree_command(work: Path) -> str:
    """The task: the first run starts a process tree and waits on it; a later run just succeeds."""
    pids, ready, runs, first = work / "pids", work / "ready", work / "runs", work / "first-run"
    return f"""
if [ -e {first} ]; then echo "run again"; echo done >> {runs}; exit 0; fi
touch {first}
echo $$ >> {pids}
sleep 600 & echo $! >> {pids}
( sleep 600 & echo $! >> {pids}; wait ) & echo $! >> {pids}
( setsid sleep 600 & echo $! >> {pids} )
env -i sleep 600 & echo $! >> {pids}
echo ready > {ready}
wait
echo done >> {runs}
"""


def tree_pids(work: Path) -> list[int]:
    return [int(line) for line in (work / "pids").read_text().split()]


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def seconds_until_gone(pids: list[int], timeout: float) -> float:
    """How long after now the processes take to be gone (zombies count as gone)."""
    started = time.monotonic()
    wait_until(lambda: not pids_alive(pids), timeout, f"processes {pids_alive(pids)} to be gone")
    return time.monotonic() - started


def runs_done(work: Path) -> int:
    path = work / "runs"
    return len(path.read_text().split()) if path.exists() else 0


@pytest.fixture
def work(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    server = ServerProcess(tmp_path / "server").start()
    try:
        yield Farm(server)
    finally:
        server.stop()


def started_tree(farm: Farm, work: Path) -> tuple[str, list[int]]:
    job_id = farm.submit(job_template("tree", step("Work", tree_command(work))))
    wait_until(lambda: (work / "ready").exists(), 90, "the task's process tree")
    pids = tree_pids(work)
    assert len(pids_alive(pids)) == len(pids) == 6
    return job_id, pids


def assert_ran_to_success_once(farm: Farm, job_id: str, work: Path) -> None:
    assert farm.wait(job_id, timeout=120)["taskRunStatus"] == "SUCCEEDED"
    runs = [a for a in farm.actions(job_id) if "taskRun" in a["definition"]]
    assert [a["status"] for a in runs].count("SUCCEEDED") == 1
    assert runs_done(work) == 1


def test_killing_a_standalone_worker_kills_its_task_tree(tmp_path: Path, farm: Farm, work: Path) -> None:
    worker = farm.worker(tmp_path / "worker")
    restarted: WorkerProcess | None = None
    try:
        # Given a task whose process tree runs on a standalone worker
        job_id, pids = started_tree(farm, work)
        # When the worker is killed with SIGKILL
        worker.kill()
        # Then every process of the tree is gone within seconds
        took = seconds_until_gone(pids, GONE_WITHIN_SECONDS)
        print(f"standalone worker: task processes gone {took:.2f} s after kill -9")
        # And once the worker is back, the task runs to SUCCEEDED exactly once
        restarted = farm.worker(tmp_path / "worker")
        assert_ran_to_success_once(farm, job_id, work)
    finally:
        for agent in (worker, restarted):
            if agent is not None:
                agent.stop(timeout=30)


def test_a_restarted_worker_kills_what_its_killed_guard_left(tmp_path: Path, farm: Farm, work: Path) -> None:
    worker = farm.worker(tmp_path / "worker")
    restarted: WorkerProcess | None = None
    try:
        # Given a task tree on a worker whose guard is killed with it (as by `kill -9 -- -<group>`)
        job_id, pids = started_tree(farm, work)
        assert worker.process is not None
        [guard] = [
            p
            for p in psutil.Process(worker.process.pid).children()
            if "_task_processes" in " ".join(p.cmdline())
        ]
        guard.kill()
        worker.kill()
        time.sleep(1)
        assert len(pids_alive(pids)) == len(pids)
        # When the worker starts again on its data dir
        restarted = farm.worker(tmp_path / "worker")
        # Then it kills its previous life's processes (recorded groups and token) before working
        seconds_until_gone(pids, 60)
        wait_until(
            lambda: "an earlier run of this worker left running" in restarted.output(), 30, "its report"
        )
        assert_ran_to_success_once(farm, job_id, work)
    finally:
        for agent in (worker, restarted):
            if agent is not None:
                agent.stop(timeout=30)


def test_killing_a_supervised_worker_kills_its_task_tree(workstation: Workstation, work: Path) -> None:
    # Given a task tree running on the single worker of `farmhand up`
    assert workstation.up("--workers", "1").returncode == 0
    state = workstation.status()
    deadline = workstation.deadline_client()
    ids = {"farmId": state["farm_id"], "queueId": state["queue_id"]}
    import json

    template = json.dumps(job_template("tree", step("Work", tree_command(work))))
    job_id = deadline.create_job(**ids, template=template, templateType="JSON", priority=50)["jobId"]
    wait_until(lambda: (work / "ready").exists(), 90, "the task's process tree")
    pids = tree_pids(work)
    assert len(pids_alive(pids)) == 6
    # When the worker process is killed with SIGKILL
    [worker_pid] = state["worker_pids"]
    os.kill(worker_pid, signal.SIGKILL)
    # Then the tree is gone within seconds, and the restarted worker runs the task to SUCCEEDED once
    took = seconds_until_gone(pids, GONE_WITHIN_SECONDS)
    print(f"supervised worker: task processes gone {took:.2f} s after kill -9")

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = deadline.get_job(**ids, jobId=job_id)
        return job if job["taskRunStatus"] in ("SUCCEEDED", "FAILED", "CANCELED") else None

    assert wait_until(finished, 120, "the job to finish")["taskRunStatus"] == "SUCCEEDED"
    actions = deadline.list_session_actions(**ids, jobId=job_id)["sessionActions"]
    assert [a["status"] for a in actions if "taskRun" in a["definition"]].count("SUCCEEDED") == 1
    assert runs_done(work) == 1
