"""`farmhand.client.api` on jobs that real workers run: waiting, failed tasks, sessions and their logs.

One farm server and one real worker process for the module; the client reaches the farm through a
temporary AWS profile with a `[services]` section and a temporary deadline config, as a user would.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from farmhand.client import api, config
from farmhand.client.api import _session
from farmhand.testing import ServerProcess, WorkerProcess

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

BUNDLE_TEMPLATE = """\
specificationVersion: jobtemplate-2023-09
name: Frames
parameterDefinitions:
- name: FailFrame
  type: INT
  default: 0
steps:
- name: Render
  parameterSpace:
    taskParameterDefinitions:
    - name: Frame
      type: INT
      range: "1-3"
  script:
    actions:
      onRun:
        command: bash
        args: ["{{Task.File.Run}}"]
    embeddedFiles:
    - name: Run
      type: TEXT
      data: |
        echo "rendering frame {{Task.Param.Frame}}"
        if [ "{{Task.Param.Frame}}" = "{{Param.FailFrame}}" ]; then
          echo "frame {{Task.Param.Frame}} broke" >&2
          exit 3
        fi
"""


@dataclass
class Farm:
    farm_id: str
    queue_id: str
    fleet_id: str


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    directory = tmp_path_factory.mktemp("client_worker")
    with ServerProcess(directory / "server") as server, pytest.MonkeyPatch.context() as env:
        admin = server.admin
        (directory / "aws_config").write_text(
            textwrap.dedent(
                f"""\
                [profile farm]
                region = us-west-2
                services = farm
                disable_host_prefix_injection = true

                [services farm]
                deadline =
                  endpoint_url = {server.url}
                cloudwatch_logs =
                  endpoint_url = {server.url}
                sts =
                  endpoint_url = {server.url}
                """
            )
        )
        (directory / "aws_credentials").write_text(
            f"[farm]\naws_access_key_id = {admin.access_key_id}\n"
            f"aws_secret_access_key = {admin.secret_access_key}\n"
        )
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(directory / "aws_config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / "aws_credentials"))
        env.setenv("DEADLINE_CONFIG_FILE_PATH", str(directory / "deadline_config"))
        env.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", "true")
        _session.clear_session_caches()
        config.set_setting("defaults.aws_profile_name", "farm")
        deadline = api.get_boto3_client("deadline")
        farm_id = deadline.create_farm(displayName="worker farm")["farmId"]
        queue_id = deadline.create_queue(
            farmId=farm_id, displayName="worker queue", jobRunAsUser={"runAs": "WORKER_AGENT_USER"}
        )["queueId"]
        fleet_id = deadline.create_fleet(
            farmId=farm_id,
            displayName="worker fleet",
            roleArn="arn:aws:iam::123456789012:role/workers",
            maxWorkerCount=2,
            configuration={
                "customerManaged": {
                    "mode": "NO_SCALING",
                    "workerCapabilities": {
                        "vCpuCount": {"min": 1},
                        "memoryMiB": {"min": 512},
                        "osFamily": "LINUX",
                        "cpuArchitectureType": "x86_64",
                    },
                }
            },
        )["fleetId"]
        deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
        config.set_setting("defaults.farm_id", farm_id)
        config.set_setting("defaults.queue_id", queue_id)
        worker = WorkerProcess(server, farm_id, fleet_id, directory / "worker").start()
        try:
            yield Farm(farm_id, queue_id, fleet_id)
        finally:
            worker.stop()
            _session.clear_session_caches()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    directory = tmp_path / "frames"
    directory.mkdir()
    (directory / "template.yaml").write_text(BUNDLE_TEMPLATE)
    return directory


T = TypeVar("T")


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0) -> T:
    """Read until `done` says so or the time is up; returns the last read."""
    give_up = time.monotonic() + timeout
    result = read()
    while not done(result) and time.monotonic() < give_up:
        time.sleep(0.25)
        result = read()
    return result


def submit(bundle: Path, **values: int) -> str:
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": name, "value": str(value)} for name, value in values.items()],
        max_retries_per_task=0,
        print_function_callback=lambda *_: None,
    )
    assert job_id is not None
    return job_id


def test_a_job_run_by_a_worker_succeeds_and_its_logs_are_readable(farm: Farm, bundle: Path) -> None:
    # Given the farm's own config names its farm and queue
    assert config.get_setting("defaults.farm_id") == farm.farm_id
    # When a bundle is submitted and waited for
    job_id = submit(bundle)
    statuses: list[str] = []
    result = api.wait_for_job_completion(
        farm.farm_id,
        farm.queue_id,
        job_id,
        max_poll_interval=1,
        timeout=180,
        status_callback=lambda s, *_: statuses.append(s),
    )
    # Then it succeeded, after passing through non-terminal states
    assert result.status == "SUCCEEDED"
    assert result.failed_tasks == []
    assert statuses[-1] == "SUCCEEDED"
    # And its sessions and their logs are readable through the client library
    sessions = api.list_sessions(farm.farm_id, farm.queue_id, job_id)["sessions"]
    assert sessions and all(s["fleetId"] == farm.fleet_id for s in sessions)
    session = api.get_session(farm.farm_id, farm.queue_id, job_id, sessions[0]["sessionId"])
    assert session["sessionId"] == sessions[0]["sessionId"]
    assert session["lifecycleStatus"] in ("ENDED", "STARTED", "UPDATE_IN_PROGRESS")

    # (workers ship logs asynchronously, as on AWS: the last lines may arrive just after the job ends)
    def all_text() -> str:
        return "\n".join(
            event.message
            for s in sessions
            for event in api.get_session_logs(
                farm.farm_id, farm.queue_id, session_id=s["sessionId"], limit=500
            ).events
        )

    text = eventually(all_text, lambda found: all(f"rendering frame {n}" in found for n in (1, 2, 3)))
    assert all(f"rendering frame {frame}" in text for frame in (1, 2, 3))
    by_job = api.get_session_logs(farm.farm_id, farm.queue_id, job_id=job_id, limit=500)
    assert by_job.log_stream in {s["sessionId"] for s in sessions}
    assert by_job.count == len(by_job.events) > 0


def test_failed_tasks_are_reported_with_their_session(farm: Farm, bundle: Path) -> None:
    # Given a job whose frame 2 fails and may not be retried
    job_id = submit(bundle, FailFrame=2)
    # When the caller waits for it
    result = api.wait_for_job_completion(
        farm.farm_id, farm.queue_id, job_id, max_poll_interval=1, timeout=180
    )
    # Then the failed task is named with its step, parameters and the session that ran it
    assert result.status == "FAILED"
    assert len(result.failed_tasks) == 1
    failed = result.failed_tasks[0]
    assert failed.step_name == "Render"
    assert failed.parameters == {"Frame": {"int": "2"}}
    assert failed.session_id is not None and failed.session_id.startswith("session-")
    sessions = {s["sessionId"] for s in api.list_sessions(farm.farm_id, farm.queue_id, job_id)["sessions"]}
    assert failed.session_id in sessions
    log = eventually(
        lambda: api.get_session_logs(farm.farm_id, farm.queue_id, session_id=failed.session_id, limit=500),
        lambda result: any("frame 2 broke" in event.message for event in result.events),
    )
    assert any("frame 2 broke" in event.message for event in log.events)
