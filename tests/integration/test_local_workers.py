"""The embedded farm's workers: a worker that dies is restarted, and the farm keeps running jobs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from _workstation import Workstation, pids_alive, workstation

__all__ = ["workstation"]

pytestmark = pytest.mark.timeout(180)

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello" / "template.yaml"


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def test_a_killed_worker_is_restarted_and_jobs_still_run(workstation: Workstation) -> None:
    # Given a detached farm with one worker
    assert workstation.up("--workers", "1").returncode == 0
    state = workstation.status()
    [first_worker] = state["worker_pids"]

    # When the worker is killed with SIGKILL
    os.kill(first_worker, signal.SIGKILL)

    # Then the supervisor starts a new worker process
    def replaced() -> list[int]:
        current = workstation.status()["worker_pids"]
        return [pid for pid in current if pid != first_worker and pids_alive([pid])]

    [second_worker] = wait_for(replaced, 30, "no new worker process")
    assert workstation.status()["workers_alive"] == 1

    # And a job submitted afterwards still runs to SUCCEEDED
    deadline = workstation.deadline_client()
    ids = {"farmId": state["farm_id"], "queueId": state["queue_id"]}
    job_id = deadline.create_job(**ids, template=HELLO.read_text(), templateType="YAML", priority=50)["jobId"]
    final = wait_for(
        lambda: (
            (job := deadline.get_job(**ids, jobId=job_id))["taskRunStatus"]
            in ("SUCCEEDED", "FAILED", "CANCELED", "NOT_COMPATIBLE")
            and job
        ),
        120,
        "the job did not finish",
    )
    assert final["taskRunStatus"] == "SUCCEEDED"
    assert pids_alive([second_worker]) == [second_worker]


def test_a_restart_keeps_jobs_logs_and_ids(workstation: Workstation) -> None:
    # Given a farm that ran the hello job
    assert workstation.up("--workers", "1").returncode == 0
    before = workstation.status()
    ids = {"farmId": before["farm_id"], "queueId": before["queue_id"]}
    deadline = workstation.deadline_client()
    job_id = deadline.create_job(**ids, template=HELLO.read_text(), templateType="YAML", priority=50)["jobId"]
    wait_for(
        lambda: deadline.get_job(**ids, jobId=job_id)["taskRunStatus"] == "SUCCEEDED",
        120,
        "hello did not succeed",
    )
    [session] = deadline.list_sessions(**ids, jobId=job_id)["sessions"]
    log_group = f"/aws/deadline/{ids['farmId']}/{ids['queueId']}"

    def log_text() -> str:
        logs = workstation.client("logs")
        try:
            events = logs.get_log_events(
                logGroupName=log_group, logStreamName=session["sessionId"], startFromHead=True
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            return ""  # not shipped yet
        return "\n".join(event["message"] for event in events)

    wait_for(lambda: "exited with code: 0" in log_text(), 30, "the session log did not arrive")

    # When the farm is stopped and started again
    assert workstation.down().returncode == 0
    assert workstation.up("--workers", "1").returncode == 0

    # Then the same ids, the job's result and its log are all still there
    after = workstation.status()
    assert (after["farm_id"], after["queue_id"], after["fleet_id"]) == (
        before["farm_id"],
        before["queue_id"],
        before["fleet_id"],
    )
    deadline = workstation.deadline_client()
    assert deadline.get_job(**ids, jobId=job_id)["taskRunStatus"] == "SUCCEEDED"
    assert "Hello from farmhand!" in log_text()


def test_a_killed_server_is_restarted_on_the_same_port_with_its_jobs(workstation: Workstation) -> None:
    # Given a detached farm with a finished job
    assert workstation.up("--workers", "1").returncode == 0
    before = workstation.status()
    ids = {"farmId": before["farm_id"], "queueId": before["queue_id"]}
    deadline = workstation.deadline_client()
    job_id = deadline.create_job(**ids, template=HELLO.read_text(), templateType="YAML", priority=50)["jobId"]
    wait_for(
        lambda: deadline.get_job(**ids, jobId=job_id)["taskRunStatus"] == "SUCCEEDED",
        120,
        "hello did not succeed",
    )

    # When its server process is killed with SIGKILL
    os.kill(before["server_pid"], signal.SIGKILL)

    # Then the supervisor brings a new server up at the same address, with the job, and new jobs still run
    after = wait_for(
        lambda: (state := workstation.status())["server_pid"] != before["server_pid"] and state,
        60,
        "no new server process",
    )
    assert after["url"] == before["url"]
    deadline = workstation.deadline_client()
    assert (
        wait_for(lambda: _answers(deadline, ids, job_id), 30, "the new server did not answer") == "SUCCEEDED"
    )
    second = deadline.create_job(**ids, template=HELLO.read_text(), templateType="YAML", priority=50)["jobId"]
    wait_for(
        lambda: deadline.get_job(**ids, jobId=second)["taskRunStatus"] == "SUCCEEDED",
        120,
        "a job after the restart did not succeed",
    )


def _answers(deadline: Any, ids: dict[str, str], job_id: str) -> str | None:
    try:
        return str(deadline.get_job(**ids, jobId=job_id)["taskRunStatus"])
    except Exception:
        return None
