"""A large job acknowledged just before `kill -9` of the server: the next server finishes creating it.

Only a job that cannot be finished ends CREATE_FAILED, and then every waiter (`farmhand job wait`,
`api.wait_for_job_completion`, the AWS `deadline job wait`) returns at once with the reason.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_farm import CliWorkstation, make_workstation
from sqlalchemy import create_engine, update

from farmhand.server.store import jobs, sqlite_url
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(400)

TASKS = 2_000_000
# A job large enough that a kill lands while it is written; a restarted server finishes an
# acknowledged job whatever its limit, so only the first server is given this one.
ABOVE_THE_TASK_LIMIT = ["--max-tasks-per-job", str(TASKS)]
FRAMES_TEMPLATE = """
specificationVersion: jobtemplate-2023-09
name: big
parameterDefinitions:
- {name: Frames, type: STRING}
steps:
- name: render
  parameterSpace:
    taskParameterDefinitions:
    - {name: Frame, type: INT, range: "{{Param.Frames}}"}
  script:
    actions:
      onRun: {command: "true"}
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_cluster").new_database())


def tasks_written(job: dict[str, Any]) -> int:
    return sum(int(n) for n in job["taskRunStatusCounts"].values())


def submit_and_kill_mid_write(server: ServerProcess, farm_id: str, queue_id: str) -> tuple[str, int]:
    """Create a job of TASKS tasks and SIGKILL the server once some, not all, of its tasks are stored."""
    deadline: Any = server.client("deadline")
    for _ in range(3):
        job_id = deadline.create_job(
            farmId=farm_id,
            queueId=queue_id,
            template=FRAMES_TEMPLATE,
            templateType="YAML",
            priority=50,
            parameters={"Frames": {"string": f"1-{TASKS}"}},
        )["jobId"]
        while True:
            job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
            if job["lifecycleStatus"] != "CREATE_IN_PROGRESS":
                break  # finished before we caught it mid-way: try another
            if tasks_written(job):
                server.kill()
                return job_id, tasks_written(job)
            time.sleep(0.02)
    raise AssertionError("could not catch a job creation in the middle")


def wait_for_lifecycle(deadline: Any, ids: dict[str, str], timeout: float = 240) -> dict[str, Any]:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        job: dict[str, Any] = deadline.get_job(**ids)
        if job["lifecycleStatus"] != "CREATE_IN_PROGRESS":
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job was still CREATE_IN_PROGRESS after {timeout:.0f} s")


def test_a_job_cut_by_kill_9_is_created_completely_after_restart(
    tmp_path: Path, database_url: str | None
) -> None:
    # Given a server killed with SIGKILL while it was writing the tasks of an acknowledged job
    data_dir = tmp_path / "farm"
    server = ServerProcess(data_dir, database_url=database_url, extra_args=ABOVE_THE_TASK_LIMIT).start()
    try:
        deadline: Any = server.client("deadline")
        farm_id = deadline.create_farm(displayName="big jobs")["farmId"]
        queue_id = deadline.create_queue(farmId=farm_id, displayName="q")["queueId"]
        job_id, before = submit_and_kill_mid_write(server, farm_id, queue_id)
    finally:
        server.stop()
    assert 0 < before < TASKS
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    # When a server starts again on the same store
    with ServerProcess(data_dir, database_url=database_url) as restarted:
        after: Any = restarted.client("deadline")
        # Then it serves at once while it finishes the job in the background
        assert after.get_job(**ids)["lifecycleStatus"] == "CREATE_IN_PROGRESS"
        job = wait_for_lifecycle(after, ids)
        # And the job is CREATE_COMPLETE with every task once
        assert job["lifecycleStatus"] == "CREATE_COMPLETE", job["lifecycleStatusMessage"]
        assert job["taskRunStatusCounts"]["READY"] == tasks_written(job) == TASKS
        assert job["taskRunStatus"] == "READY"
        [step] = after.list_steps(**ids)["steps"]
        prefix = f"task-{step['stepId'][5:]}-"
        for index in (0, before - 1, before, TASKS - 1):
            task = after.get_task(**ids, stepId=step["stepId"], taskId=f"{prefix}{index}")
            assert task["parameters"] == {"Frame": {"int": str(index + 1)}}


def test_a_job_that_cannot_be_finished_fails_and_every_waiter_returns_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job cut by kill -9 whose stored template the next server can no longer instantiate
    data_dir = tmp_path / "farm"
    server = ServerProcess(data_dir, extra_args=ABOVE_THE_TASK_LIMIT).start()
    try:
        station = make_workstation(server, tmp_path / "station")
        job_id, _ = submit_and_kill_mid_write(server, station.farm_id, station.queue_id)
    finally:
        server.stop()
    engine = create_engine(sqlite_url(data_dir))
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(template="name: not a template"))
    engine.dispose()
    with ServerProcess(data_dir, port=int(station.url.rsplit(":", 1)[1])) as restarted:
        # When it starts, Then the job ends CREATE_FAILED and FAILED, with the reason
        ids = {"farmId": station.farm_id, "queueId": station.queue_id, "jobId": job_id}
        job = wait_for_lifecycle(restarted.client("deadline"), ids)
        assert job["lifecycleStatus"] == "CREATE_FAILED"
        assert job["taskRunStatus"] == "FAILED"
        reason = job["lifecycleStatusMessage"]
        assert "could not be created" in reason and "template" in reason
        # And `farmhand job wait` exits 2 (failed) and prints the reason
        waited = station.run_process("job", "wait", job_id, "--max-poll-interval", "1", timeout=60)
        assert waited.returncode == 2, waited.stdout + waited.stderr
        assert "Its creation failed: The job could not be created" in waited.stdout
        # And the API's waiter returns FAILED
        for name, value in station.env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        from farmhand.client import api

        result = api.wait_for_job_completion(
            station.farm_id, station.queue_id, job_id, max_poll_interval=1, timeout=60
        )
        assert (result.status, result.failed_tasks) == ("FAILED", [])
        # And so does the AWS `deadline job wait`
        aws = aws_deadline_wait(station, job_id)
        assert aws.returncode != 0 and "FAILED" in aws.stdout + aws.stderr, aws.stdout + aws.stderr


def aws_deadline_wait(station: CliWorkstation, job_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("deadline")),
            "job",
            "wait",
            "--job-id",
            job_id,
            "--max-poll-interval",
            "1",
            "--timeout",
            "60",
        ],
        env=station.process_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
