"""The `farmhand` commands that need jobs to run: wait, logs (and --follow), why, worker list.

One embedded farm (`farmhand.testing.LocalFarm`: real server, one real worker agent) for the module;
the CLI reaches it through the AWS profile and deadline config the farm wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_farm import FAILING_TEMPLATE, write_bundle
from click.testing import CliRunner, Result

from farmhand.client.cli import cli
from farmhand.testing import LocalFarm

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

FARMHAND = str(Path(sys.executable).with_name("farmhand"))


@pytest.fixture(scope="module")
def farm() -> Iterator[LocalFarm]:
    with LocalFarm(workers=1) as running:
        yield running


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"DEADLINE_CLOUD_TELEMETRY_OPT_OUT": "true"})


def run_process(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEADLINE_CLOUD_TELEMETRY_OPT_OUT": "true"}
    return subprocess.run(
        [FARMHAND, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def submit(bundle: Path, *args: str) -> str:
    result = run("bundle", "submit", str(bundle), "--yes", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


@pytest.fixture(scope="module")
def failed_job(farm: LocalFarm, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A job whose frame 2 exits 3 after writing why to stderr (no retries)."""
    bundle = write_bundle(tmp_path_factory.mktemp("failing") / "bundle", FAILING_TEMPLATE)
    result = run(
        "bundle",
        "submit",
        str(bundle),
        "--yes",
        "--max-retries-per-task",
        "0",
        "--wait",
        "--max-poll-interval",
        "1",
    )
    assert result.exit_code == 2, result.output
    job_id = result.stdout.strip().splitlines()[0]
    assert job_id.startswith("job-")
    assert "1 failed task(s)" in result.stdout
    assert f"farmhand job why {job_id}" in result.stdout
    return job_id


def test_submit_and_wait_succeeds_with_exit_0(farm: LocalFarm, tmp_path: Path) -> None:
    # When a bundle is submitted with --wait
    result = run(
        "bundle",
        "submit",
        str(write_bundle(tmp_path / "hello")),
        "--yes",
        "-p",
        "Count=2",
        "--wait",
        "--max-poll-interval",
        "1",
    )
    # Then it prints the job id, waits until the job succeeded and exits 0
    assert result.exit_code == 0, result.output
    job_id = result.stdout.splitlines()[0]
    assert "SUCCEEDED" in result.stdout
    # and `job wait` on the finished job answers at once, in JSON too
    waited = run("job", "wait", job_id, "--json")
    assert waited.exit_code == 0
    assert json.loads(waited.stdout)["status"] == "SUCCEEDED"


def test_job_logs_show_what_the_task_printed(farm: LocalFarm, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "hello")
    job_id = submit(bundle, "-p", "Greeting=bonjour", "--wait", "--max-poll-interval", "1")
    result = run("job", "logs", job_id)
    assert result.exit_code == 0, result.output
    assert "bonjour number 1" in result.stdout
    as_json = [json.loads(line) for line in run("job", "logs", job_id, "--json").stdout.splitlines()]
    assert any(event["message"] == "bonjour number 1" for event in as_json)
    assert all(event["timestamp"].endswith("+00:00") for event in as_json)


def test_job_logs_follow_prints_every_task_and_stops_when_the_job_is_done(
    farm: LocalFarm, tmp_path: Path
) -> None:
    # Given a job that has just been submitted
    job_id = submit(write_bundle(tmp_path / "hello"), "-p", "Count=3", "-p", "Greeting=followed")
    # When its logs are followed by the installed command
    result = run_process("job", "logs", job_id, "--follow")
    # Then every task's line is printed and the command ends by itself once the job is done
    assert result.returncode == 0, result.stderr
    for n in (1, 2, 3):
        assert f"followed number {n}" in result.stdout


def test_job_wait_on_a_failed_job_exits_2(failed_job: str) -> None:
    result = run_process("job", "wait", failed_job)
    assert result.returncode == 2, result.stderr
    assert "FAILED" in result.stdout


def test_job_why_shows_the_failed_task_its_exit_code_and_its_log(failed_job: str) -> None:
    # When asking why the job failed
    result = run("job", "why", failed_job)
    # Then the failed task is named with its parameters, exit code and the lines it wrote
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "1 failed task(s)" in out
    assert "Work / task-" in out and "Frame=2" in out
    assert "exit code 3" in out
    assert "cannot open scene.blend: no such file" in out
    # and the other task's output is not mistaken for the failure
    assert "working on frame 1" not in out


def test_job_why_json(failed_job: str) -> None:
    result = run("job", "why", failed_job, "--json", "--lines", "5")
    assert result.exit_code == 0, result.output
    diagnosis = json.loads(result.stdout)
    assert diagnosis["taskRunStatus"] == "FAILED"
    [task] = diagnosis["failedTasks"]
    assert task["step_name"] == "Work"
    assert task["parameters"] == {"Frame": {"int": "2"}}
    assert task["exit_code"] == 3
    assert task["worker_id"].startswith("worker-")
    assert any("cannot open scene.blend" in line["message"] for line in task["logLines"])
    assert len(task["logLines"]) <= 5


def test_requeue_failed_tasks_runs_them_again(failed_job: str) -> None:
    result = run("job", "requeue-tasks", failed_job, "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["requeued"]) == 1
    again = run("job", "wait", failed_job, "--max-poll-interval", "1", "--timeout", "120")
    assert again.exit_code == 2, again.output  # frame 2 fails again


def test_worker_list_shows_the_farm_worker(farm: LocalFarm) -> None:
    result = run("worker", "list", "--json")
    assert result.exit_code == 0, result.output
    workers = json.loads(result.stdout)["workers"]
    assert len(workers) == 1
    assert workers[0]["fleetId"] == farm.fleet_id
    got = run("worker", "get", "--fleet-id", farm.fleet_id, "--worker-id", workers[0]["workerId"], "--json")
    assert json.loads(got.stdout)["workerId"] == workers[0]["workerId"]
