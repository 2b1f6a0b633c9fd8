"""`farmhand up`, `status` and `down` as a user runs them: real processes, real config files."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from _workstation import FARMHAND, Workstation, pids_alive, workstation

__all__ = ["workstation"]

pytestmark = pytest.mark.timeout(180)

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello" / "template.yaml"


def test_up_detach_writes_the_profile_and_defaults_and_leaves_other_profiles_alone(
    workstation: Workstation,
) -> None:
    # Given a user whose AWS config already has profiles and comments of their own
    workstation.aws_config.parent.mkdir(parents=True)
    theirs = (
        "[default]\nregion = eu-west-1\n# keep me\n\n[profile work]\nregion = us-east-1\nservices = corp\n"
    )
    workstation.aws_config.write_text(theirs)

    # When they start the farm in the background
    result = workstation.up("--workers", "0")

    # Then it says where it runs, and the profile it wrote reaches the farm it created
    assert result.returncode == 0, result.stderr
    assert "farmhand farm running at http://127.0.0.1:" in result.stdout
    farms = workstation.deadline_client().list_farms()["farms"]
    assert [farm["displayName"] for farm in farms] == ["Local Farm"]
    config_text = workstation.aws_config.read_text()
    assert config_text.startswith(theirs)
    assert "[profile farmhand]" in config_text
    assert "disable_host_prefix_injection = true" in config_text
    # And the deadline config's defaults point at the farm's profile, farm and queue
    status = workstation.status()
    deadline_config = workstation.deadline_config.read_text()
    assert "aws_profile_name = farmhand" in deadline_config
    assert f"farm_id = {status['farm_id']}" in deadline_config
    assert f"queue_id = {status['queue_id']}" in deadline_config
    # And the AWS client scans only the profile's region for farms
    assert "deadline_regions = us-west-2" in deadline_config


def test_up_twice_reports_the_running_farm_and_down_leaves_no_process(workstation: Workstation) -> None:
    # Given a detached farm with a worker
    assert workstation.up("--workers", "1").returncode == 0
    first = workstation.status()
    pids = [first["supervisor_pid"], first["server_pid"], *first["worker_pids"]]
    assert len(pids) == 3
    assert pids_alive(pids) == pids

    # When it is started again
    again = workstation.up("--workers", "1")

    # Then it reports the running farm instead of starting a second one
    assert again.returncode == 0, again.stderr
    assert "Already running" in again.stdout
    assert first["url"] in again.stdout
    assert workstation.status()["supervisor_pid"] == first["supervisor_pid"]

    # When it is stopped
    down = workstation.down()

    # Then no process of it is left and status says so
    assert down.returncode == 0, down.stderr
    assert "Farm stopped." in down.stdout
    assert pids_alive(pids) == []
    stopped = workstation.farmhand("status", "--data-dir", str(workstation.data_dir))
    assert stopped.returncode == 1
    assert "No farm is running" in stopped.stdout


def test_a_port_in_use_is_a_clear_error(workstation: Workstation) -> None:
    # Given a port another program listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When the farm is asked to use it
        result = workstation.farmhand(
            "up", "--detach", "--data-dir", str(workstation.data_dir), "--port", str(port), "--workers", "0"
        )

    # Then it fails with one line that names the port, and no traceback
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_kill_9_then_up_brings_back_every_job_with_the_same_ids(workstation: Workstation) -> None:
    # Given a detached farm with a job in its queue
    assert workstation.up("--workers", "0", "--no-defaults").returncode == 0
    before = workstation.status()
    deadline = workstation.deadline_client()
    job_id = deadline.create_job(
        farmId=before["farm_id"],
        queueId=before["queue_id"],
        template=HELLO.read_text(),
        templateType="YAML",
        priority=50,
    )["jobId"]

    # When the whole farm is killed with SIGKILL (supervisor and server)
    for pid in (before["supervisor_pid"], before["server_pid"]):
        os.kill(pid, signal.SIGKILL)
    deadline_to_die = time.monotonic() + 10
    while pids_alive([before["server_pid"]]) and time.monotonic() < deadline_to_die:
        time.sleep(0.1)

    # And started again
    restarted = workstation.up("--workers", "0", "--no-defaults")

    # Then the same farm, queue and fleet come back, and so does the job
    assert restarted.returncode == 0, restarted.stderr
    after = workstation.status()
    assert (after["farm_id"], after["queue_id"], after["fleet_id"]) == (
        before["farm_id"],
        before["queue_id"],
        before["fleet_id"],
    )
    deadline = workstation.deadline_client()
    job = deadline.get_job(farmId=after["farm_id"], queueId=after["queue_id"], jobId=job_id)
    assert job["name"] == "Hello"
    assert len(deadline.list_farms()["farms"]) == 1
    # And --no-defaults left the deadline config alone
    assert not workstation.deadline_config.exists()


def test_foreground_up_stops_cleanly_on_ctrl_c(workstation: Workstation) -> None:
    # Given a farm running in the foreground
    process = subprocess.Popen(
        [*FARMHAND, "up", "--data-dir", str(workstation.data_dir), "--port", "0", "--workers", "0"],
        env=workstation.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    give_up = time.monotonic() + 60
    status: dict[str, Any] = {"running": False}
    while time.monotonic() < give_up and not status.get("running"):
        time.sleep(0.3)
        status = workstation.status()
    assert status["running"], process.stderr.read() if process.poll() is not None else "not ready"

    # When the user presses Ctrl-C
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    # Then it stops, says so, and leaves nothing running
    assert process.returncode == 0, stderr
    assert "farm stopped" in stdout
    assert pids_alive([status["server_pid"]]) == []
    assert workstation.farmhand("status", "--data-dir", str(workstation.data_dir)).returncode == 1


def test_a_job_with_a_failing_task_ends_on_a_farm_with_one_worker(workstation: Workstation) -> None:
    # Given a farm with one worker and a per-worker failure cap of 1
    assert workstation.up("--workers", "1", "--worker-failure-cap", "1").returncode == 0
    server = psutil.Process(workstation.status()["server_pid"])
    assert server.cmdline()[-2:] == ["--worker-failure-cap", "1"]
    # When a job whose task 2 always fails (two retries) is submitted and waited for
    retries = Path(__file__).resolve().parents[2] / "examples" / "retries"
    submitted = workstation.farmhand(
        "bundle", "submit", str(retries), "--max-retries-per-task", "2", "--wait", timeout=150
    )
    # Then the cap did not stall it: the other tasks ran on the same worker and the job failed
    assert submitted.returncode == 2, submitted.stdout + submitted.stderr
    status = workstation.status()
    job_id = re.findall(r"job-[0-9a-f]{32}", submitted.stdout)[0]
    job = workstation.deadline_client().get_job(
        farmId=status["farm_id"], queueId=status["queue_id"], jobId=job_id
    )
    assert job["taskRunStatusCounts"]["SUCCEEDED"] == 2 and job["taskRunStatusCounts"]["FAILED"] == 1


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgres://user:secret@127.0.0.1:9/farm", "is not one farmhand speaks"),
        ("postgresql+psycopg://user:secret@127.0.0.1:9/farm", "cannot be reached"),
    ],
)
def test_a_bad_database_url_is_one_line(workstation: Workstation, url: str, said: str) -> None:
    # When the farm is started with a database URL of the wrong scheme, or one nothing answers at
    result = workstation.up("--workers", "0", "--database-url", url)
    # Then one line says what is wrong, without a traceback or the password
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: the farm server did not start: "), result.stderr
    assert said in lines[0] and "secret" not in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
