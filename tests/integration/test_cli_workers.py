"""The `farmhand` commands that need jobs to run: wait, logs (and --follow), why, worker list.

A real farm server and one real worker agent, started with `farmhand worker --farm-id F --fleet-id L`
(the CLI's dispatch to the agent) with the workstation's own profile; every command reaches the farm
through that workstation's AWS profile and deadline config.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_farm import BUNDLES, FAILING_TEMPLATE, CliWorkstation, make_workstation, write_bundle
from click.testing import Result

from farmhand.testing import ServerProcess

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


@pytest.fixture(scope="module")
def station(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorkstation]:
    """A workstation and one worker agent in its fleet (SIGTERM at the end)."""
    workstation = make_workstation(server, tmp_path_factory.mktemp("cli-workers"))
    agent = workstation.start_worker()
    try:
        yield workstation
    finally:
        agent.terminate()
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(10)


def eventually(command: Callable[[], Result], expected: str, timeout: float = 15.0) -> Result:
    """Run the command until its output contains `expected`: workers ship log lines in batches."""
    give_up = time.monotonic() + timeout
    while True:
        result = command()
        if expected in result.stdout or time.monotonic() > give_up:
            return result
        time.sleep(0.5)


def submit(station: CliWorkstation, bundle: Path, *args: str) -> str:
    result = station.run("bundle", "submit", str(bundle), "--yes", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


@pytest.fixture(scope="module")
def failed_job(station: CliWorkstation, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A job whose frame 2 exits 3 after writing why to stderr (no retries), submitted with --wait."""
    bundle = write_bundle(tmp_path_factory.mktemp("failing") / "bundle", FAILING_TEMPLATE)
    result = station.run(
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


def test_submit_and_wait_succeeds_with_exit_0(station: CliWorkstation, tmp_path: Path) -> None:
    # When a bundle is submitted with --wait
    result = station.run(
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
    waited = station.run("job", "wait", job_id, "--json")
    assert waited.exit_code == 0
    assert json.loads(waited.stdout)["status"] == "SUCCEEDED"


def test_job_logs_show_what_the_task_printed(station: CliWorkstation, tmp_path: Path) -> None:
    job_id = submit(
        station,
        write_bundle(tmp_path / "hello"),
        "-p",
        "Greeting=bonjour",
        "--wait",
        "--max-poll-interval",
        "1",
    )
    # right after the wait, before the worker may have shipped the lines: `job logs` waits for them
    result = station.run("job", "logs", job_id)
    assert result.exit_code == 0, result.output
    assert "bonjour number 1" in result.stdout
    # the reading position is the farm's business unless asked for
    assert "token" not in result.output
    asked = station.run("job", "logs", job_id, "--show-next-token")
    assert "next token: " in asked.stderr
    as_json = [json.loads(line) for line in station.run("job", "logs", job_id, "--json").stdout.splitlines()]
    assert any(event["message"] == "bonjour number 1" for event in as_json)
    assert all(event["timestamp"].endswith("+00:00") for event in as_json)


def test_job_logs_of_the_session_a_session_action_ran_in(
    station: CliWorkstation, server: ServerProcess, tmp_path: Path
) -> None:
    # Given a finished job and the session action that ran its task
    job_id = submit(
        station,
        write_bundle(tmp_path / "hello"),
        "-p",
        "Greeting=salut",
        "--wait",
        "--max-poll-interval",
        "1",
    )
    deadline = server.client("deadline")
    ids = {"farmId": station.farm_id, "queueId": station.queue_id, "jobId": job_id}
    [step] = deadline.list_steps(**ids)["steps"]
    [task] = deadline.list_tasks(**ids, stepId=step["stepId"])["tasks"]
    # When the logs are asked for by that action
    result = eventually(
        lambda: station.run("job", "logs", "--session-action-id", task["latestSessionActionId"]),
        "salut number 1",
    )
    # Then they are the logs of its session
    assert result.exit_code == 0, result.output
    assert "salut number 1" in result.stdout


def test_job_logs_follow_prints_every_task_and_stops_when_the_job_is_done(
    station: CliWorkstation, tmp_path: Path
) -> None:
    # Given a job that has just been submitted
    job_id = submit(station, write_bundle(tmp_path / "hello"), "-p", "Count=3", "-p", "Greeting=followed")
    # When its logs are followed by the installed command
    result = station.run_process("job", "logs", job_id, "--follow", timeout=180)
    # Then every task's line is printed and the command ends by itself once the job is done
    assert result.returncode == 0, result.stderr
    for n in (1, 2, 3):
        assert f"followed number {n}" in result.stdout


def test_job_wait_on_a_failed_job_exits_2(station: CliWorkstation, failed_job: str) -> None:
    result = station.run_process("job", "wait", failed_job)
    assert result.returncode == 2, result.stderr
    assert "FAILED" in result.stdout


def test_job_why_shows_the_failed_task_its_exit_code_and_its_log(
    station: CliWorkstation, failed_job: str
) -> None:
    # When asking why the job failed
    result = eventually(lambda: station.run("job", "why", failed_job), "cannot open scene.blend")
    # Then the failed task is named with its parameters, exit code and the lines it wrote
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "1 failed task(s)" in out
    assert "Work / task-" in out and "Frame=2" in out
    assert "exit code 3" in out
    assert "failed 1 time ·" in out
    assert "cannot open scene.blend: no such file" in out
    # and the other task's output is not mistaken for the failure
    assert "working on frame 1" not in out


def test_job_why_json(station: CliWorkstation, failed_job: str) -> None:
    result = eventually(
        lambda: station.run("job", "why", failed_job, "--json", "--lines", "5"), "cannot open scene.blend"
    )
    assert result.exit_code == 0, result.output
    diagnosis = json.loads(result.stdout)
    assert diagnosis["taskRunStatus"] == "FAILED"
    [task] = diagnosis["failedTasks"]
    assert task["step_name"] == "Work"
    assert task["parameters"] == {"Frame": {"int": "2"}}
    assert task["exit_code"] == 3
    assert task["failed_runs"] == 1
    assert task["worker_id"].startswith("worker-")
    assert any("cannot open scene.blend" in line["message"] for line in task["logLines"])
    assert len(task["logLines"]) <= 5


def test_requeue_failed_tasks_runs_them_again(station: CliWorkstation, failed_job: str) -> None:
    result = station.run("job", "requeue-tasks", failed_job, "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["requeued"]) == 1
    again = station.run("job", "wait", failed_job, "--max-poll-interval", "1", "--timeout", "120")
    assert again.exit_code == 2, again.output  # frame 2 fails again


def test_worker_list_shows_the_fleet_worker(station: CliWorkstation) -> None:
    result = station.run("worker", "list", "--json")
    assert result.exit_code == 0, result.output
    workers = json.loads(result.stdout)["workers"]
    assert len(workers) == 1
    assert workers[0]["fleetId"] == station.fleet_id
    got = station.run(
        "worker", "get", "--fleet-id", station.fleet_id, "--worker-id", workers[0]["workerId"], "--json"
    )
    assert json.loads(got.stdout)["workerId"] == workers[0]["workerId"]


UNSATISFIABLE_TEMPLATE = """\
specificationVersion: 'jobtemplate-2023-09'
name: CLI Windows Only
steps:
- name: OnWindows
  hostRequirements:
    attributes:
    - name: attr.worker.os.family
      anyOf: [windows]
  script:
    actions:
      onRun:
        command: echo
        args: ['never runs']
"""


def test_wait_on_a_job_no_fleet_can_run_exits_5(station: CliWorkstation, tmp_path: Path) -> None:
    # Given a job for Windows hosts, and a queue served only by a Linux fleet
    job_id = submit(station, write_bundle(tmp_path / "windows", UNSATISFIABLE_TEMPLATE))
    # When waiting for it
    result = station.run("job", "wait", job_id, "--max-poll-interval", "1", "--timeout", "60", "--json")
    # Then the wait ends with NOT_COMPATIBLE and exit code 5
    assert result.exit_code == 5, result.output
    assert json.loads(result.stdout)["status"] == "NOT_COMPATIBLE"


def test_a_script_bundle_runs_in_its_data_directory(station: CliWorkstation, tmp_path: Path) -> None:
    # Given a bundle that runs a script parameter in a data directory on the shared file system
    bundle = BUNDLES / "directory_script"
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("frame data\n")
    # When it is submitted with -p values and waited for
    result = station.run(
        "bundle",
        "submit",
        str(bundle),
        "--yes",
        "-p",
        f"DataDir={data}",
        "-p",
        "Script=wc -c < input.txt > size.txt",
        "--wait",
        "--max-poll-interval",
        "1",
    )
    # Then the job succeeds and its script ran in the data directory
    assert result.exit_code == 0, result.output
    assert (data / "size.txt").read_text().strip() == "11"
