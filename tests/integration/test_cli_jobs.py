"""`farmhand bundle submit` and the job commands that need no worker, against a real farm server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_farm import CliWorkstation, make_workstation, write_bundle

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def station(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorkstation]:
    yield make_workstation(server, tmp_path_factory.mktemp("cli-jobs"))


@pytest.fixture(scope="module")
def deadline(server: ServerProcess) -> Any:
    return server.client("deadline")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "bundle")


def submit(station: CliWorkstation, *args: str) -> str:
    result = station.run("bundle", "submit", *args, "--yes")
    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip()
    assert job_id.startswith("job-"), result.stdout
    return job_id


def get_job(deadline: Any, station: CliWorkstation, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = deadline.get_job(farmId=station.farm_id, queueId=station.queue_id, jobId=job_id)
    return job


def test_submit_prints_only_the_job_id_on_stdout(
    station: CliWorkstation, bundle: Path, deadline: Any
) -> None:
    # When a bundle is submitted
    result = station.run("bundle", "submit", str(bundle), "--yes")
    # Then stdout is just the job id (scripts capture it); the chatter is on stderr
    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip()
    assert "\n" not in job_id
    assert "Submitting to Queue: CLI queue" in result.stderr
    # And the job id is printed once, not also among the chatter (the monitor link holds it in its path)
    chatter = [line for line in result.stderr.splitlines() if not line.startswith("Job URL: ")]
    assert (result.stdout + "\n".join(chatter)).count(job_id) == 1, result.stderr
    job = get_job(deadline, station, job_id)
    assert job["name"] == "CLI Hello"
    assert job["priority"] == 50
    assert job["lifecycleStatus"] == "CREATE_COMPLETE"


def test_submit_passes_parameters_and_job_options(
    station: CliWorkstation, tmp_path: Path, deadline: Any
) -> None:
    # Given a parameter file and -p options (later -p wins over the file)
    parameter_file = tmp_path / "values.yaml"
    parameter_file.write_text("Greeting: from the file\nCount: 2\n")
    bundle = write_bundle(tmp_path / "bundle")
    # When the bundle is submitted with every job option
    job_id = submit(
        station,
        str(bundle),
        "--parameter-file",
        str(parameter_file),
        "-p",
        "Count=3",
        "--name",
        "Renamed",
        "--priority",
        "70",
        "--max-failed-tasks-count",
        "7",
        "--max-retries-per-task",
        "2",
        "--max-worker-count",
        "1",
    )
    # Then the job carries them
    job = get_job(deadline, station, job_id)
    assert job["name"] == "Renamed"
    assert job["priority"] == 70
    assert job["maxFailedTasksCount"] == 7
    assert job["maxRetriesPerTask"] == 2
    assert job["maxWorkerCount"] == 1
    assert job["parameters"] == {"Greeting": {"string": "from the file"}, "Count": {"int": "3"}}
    assert sum(job["taskRunStatusCounts"].values()) == 3


def test_bundle_priority_is_kept_when_no_option_overrides_it(
    station: CliWorkstation, tmp_path: Path, deadline: Any
) -> None:
    # Given a bundle whose parameter_values ask for priority 80 and 1 retry
    bundle = write_bundle(
        tmp_path / "bundle",
        parameter_values_yaml=(
            "parameterValues:\n- name: deadline:priority\n  value: 80\n"
            "- name: deadline:maxRetriesPerTask\n  value: 1\n"
        ),
    )
    # When it is submitted without --priority
    job = get_job(deadline, station, submit(station, str(bundle)))
    # Then the bundle's values win over the CLI defaults (unlike the AWS CLI, which forces 50)
    assert job["priority"] == 80
    assert job["maxRetriesPerTask"] == 1


def test_submit_suspended_then_wait_exits_4(station: CliWorkstation, bundle: Path, deadline: Any) -> None:
    job_id = submit(station, str(bundle), "--submit-suspended")
    assert get_job(deadline, station, job_id)["taskRunStatus"] == "SUSPENDED"
    result = station.run("job", "wait", job_id, "--json")
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["status"] == "SUSPENDED"


def test_submit_saves_the_job_as_default_for_job_commands(station: CliWorkstation, bundle: Path) -> None:
    # Given a job submitted to the configured farm and queue
    job_id = submit(station, str(bundle), "--submit-suspended")
    # When `job get` runs without a job id
    result = station.run("job", "get", "--json")
    # Then it shows that job
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jobId"] == job_id
    assert f"job_id = {job_id}" in station.deadline_config.read_text()


def test_job_get_human_and_list(station: CliWorkstation, bundle: Path) -> None:
    job_id = submit(station, str(bundle), "--name", "Listed job", "--submit-suspended")
    human = station.run("job", "get", job_id)
    assert f"jobId: {job_id}" in human.stdout
    assert "name: Listed job" in human.stdout

    listed = station.run("job", "list", "--json")
    assert listed.exit_code == 0, listed.output
    jobs = json.loads(listed.stdout)["jobs"]
    assert jobs[0]["jobId"] == job_id  # newest first
    table = station.run("job", "list")
    assert "Listed job" in table.stdout and job_id in table.stdout


def test_cancel_then_wait_exits_3(station: CliWorkstation, bundle: Path, deadline: Any) -> None:
    job_id = submit(station, str(bundle))
    cancel = station.run("job", "cancel", job_id, "--yes")
    assert cancel.exit_code == 0, cancel.output
    assert get_job(deadline, station, job_id)["taskRunStatus"] == "CANCELED"
    wait = station.run("job", "wait", job_id)
    assert wait.exit_code == 3, wait.output
    assert "CANCELED" in wait.stdout


def test_cancel_asks_before_acting_and_no_keeps_the_job(
    station: CliWorkstation, bundle: Path, deadline: Any
) -> None:
    job_id = submit(station, str(bundle), "--submit-suspended")
    result = station.run("job", "cancel", job_id, input="n\n")
    assert result.exit_code == 1
    assert get_job(deadline, station, job_id)["taskRunStatus"] == "SUSPENDED"


def test_requeue_tasks_of_a_canceled_job(station: CliWorkstation, tmp_path: Path, deadline: Any) -> None:
    job_id = submit(station, str(write_bundle(tmp_path / "b")), "-p", "Count=2")
    station.run("job", "cancel", job_id, "--yes")
    result = station.run("job", "requeue-tasks", job_id, "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["requeued"]) == 2
    job = get_job(deadline, station, job_id)
    assert job["taskRunStatus"] in ("READY", "PENDING")
    assert job["taskRunStatusCounts"].get("CANCELED", 0) == 0


def test_wait_with_a_timeout_exits_1(station: CliWorkstation, bundle: Path) -> None:
    # Given a ready job and no worker to run it
    job_id = submit(station, str(bundle))
    # When waiting at most half a second
    result = station.run("job", "wait", job_id, "--timeout", "0.5", "--max-poll-interval", "0.2")
    # Then the wait gives up with exit code 1
    assert result.exit_code == 1, result.output
    assert "Timeout waiting for job" in result.stderr


def test_why_explains_a_suspended_job(station: CliWorkstation, bundle: Path) -> None:
    # Given a job submitted suspended
    job_id = submit(station, str(bundle), "--submit-suspended")
    # When asking why it does not run
    result = station.run("job", "why", job_id)
    # Then the answer says who suspended it, not that nothing failed
    assert result.exit_code == 0, result.output
    assert "No task of this job has failed." not in result.stdout
    assert "SUSPENDED: 1 task SUSPENDED by the farm: the job was submitted SUSPENDED by" in result.stdout
    as_json = json.loads(station.run("job", "why", job_id, "--json").stdout)
    assert as_json["failedTasks"] == [] and as_json["taskRunStatus"] == "SUSPENDED"
    (step,) = as_json["steps"]
    assert [r["code"] for r in step["reasons"]] == ["SUSPENDED"]


def test_why_explains_a_ready_job_no_worker_takes(station: CliWorkstation, bundle: Path) -> None:
    # Given a ready job on a farm whose fleet has no online worker
    job_id = submit(station, str(bundle))
    # When asking why it does not run
    result = station.run("job", "why", job_id, "--json")
    # Then the farm's reason is given as data
    assert result.exit_code == 0, result.output
    (step,) = json.loads(result.stdout)["steps"]
    assert step["taskRunStatus"] == "READY"
    assert step["reasons"][0]["code"] in ("NO_WORKER", "NO_WORKER_ONLINE")
    human = station.run("job", "why", job_id).stdout
    assert f"READY: {step['reasons'][0]['message']}" in " ".join(human.split())


def test_submit_with_options_naming_the_configured_queue_updates_the_default_job(
    station: CliWorkstation, bundle: Path
) -> None:
    before = station.run("config", "get", "defaults.job_id").stdout
    job_id = submit(station, str(bundle), "--queue-id", station.queue_id, "--farm-id", station.farm_id)
    assert job_id.startswith("job-")
    # the options named the configured farm and queue, so the default job is updated
    assert station.run("config", "get", "defaults.job_id").stdout.strip() == job_id
    assert before != job_id


def test_wait_on_an_archived_job_exits_4(station: CliWorkstation, bundle: Path, deadline: Any) -> None:
    # Given a canceled job that has been archived
    job_id = submit(station, str(bundle))
    station.run("job", "cancel", job_id, "--yes")
    deadline.update_job(
        farmId=station.farm_id, queueId=station.queue_id, jobId=job_id, lifecycleStatus="ARCHIVED"
    )
    # When waiting for it
    result = station.run("job", "wait", job_id, "--json")
    # Then the wait reports it archived, exit code 4
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["status"] == "ARCHIVED"


QUEUE_ENVIRONMENT = """\
specificationVersion: 'environment-2023-09'
parameterDefinitions:
- name: RendererVersion
  type: STRING
  default: '4.2'
  description: Which renderer the queue sets up.
environment:
  name: Renderer
  script:
    actions:
      onEnter:
        command: echo
        args: ['renderer {{Param.RendererVersion}}']
"""


def test_queue_environment_parameters_are_listed_and_settable(
    station: CliWorkstation, tmp_path: Path, deadline: Any
) -> None:
    # Given a queue whose environment defines a parameter
    queue_id = deadline.create_queue(farmId=station.farm_id, displayName="Env queue")["queueId"]
    deadline.create_queue_environment(
        farmId=station.farm_id, queueId=queue_id, priority=1, templateType="YAML", template=QUEUE_ENVIRONMENT
    )
    # When its parameters are listed
    listed = station.run("queue", "paramdefs", "--queue-id", queue_id, "--json")
    table = station.run("queue", "paramdefs", "--queue-id", queue_id)
    # Then the parameter is there, with its default and where it comes from
    assert listed.exit_code == 0, listed.output
    [definition] = json.loads(listed.stdout)["parameterDefinitions"]
    assert definition["name"] == "RendererVersion"
    assert definition["default"] == "4.2"
    assert definition["userInterface"]["groupLabel"] == "Queue Environment: Renderer"
    assert "RendererVersion" in table.stdout and "4.2" in table.stdout
    # and a submission to that queue can set it with -p
    job_id = submit(
        station, str(write_bundle(tmp_path / "b")), "--queue-id", queue_id, "-p", "RendererVersion=5.0"
    )
    job = deadline.get_job(farmId=station.farm_id, queueId=queue_id, jobId=job_id)
    assert job["parameters"]["RendererVersion"] == {"string": "5.0"}


def test_debug_snapshot_writes_the_request_instead_of_submitting(
    station: CliWorkstation, bundle: Path, tmp_path: Path, deadline: Any
) -> None:
    before = len(deadline.list_jobs(farmId=station.farm_id, queueId=station.queue_id)["jobs"])
    snapshot = tmp_path / "snapshot"
    result = station.run(
        "bundle",
        "submit",
        str(bundle),
        "--yes",
        "-p",
        "Count=4",
        "--save-debug-snapshot",
        str(snapshot),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"debugSnapshot": str(snapshot)}
    request = json.loads((snapshot / "create_job_args.json").read_text())
    assert request["parameters"]["Count"] == {"int": "4"}
    assert len(deadline.list_jobs(farmId=station.farm_id, queueId=station.queue_id)["jobs"]) == before
