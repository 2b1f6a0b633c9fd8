"""The embedded farm's resources and its status line, against a real server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _synthetic_workers import SyntheticWorker

from farmhand.local import FarmState, bootstrap_farm
from farmhand.local._bootstrap import default_bucket_name
from farmhand.local._commands import _describe
from farmhand.local._status_line import status_line, task_counts
from farmhand.testing import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("bootstrap")) as process:
        yield process


def test_bootstrap_creates_the_farm_once(server: ServerProcess) -> None:
    deadline: Any = server.client("deadline")

    # When the farm is bootstrapped twice (a first start and a restart)
    first = bootstrap_farm(deadline, server.admin.account_id)
    second = bootstrap_farm(deadline, server.admin.account_id)

    # Then the same farm, queue and fleet are found again, with one ACTIVE association
    assert first == second
    assert [farm["displayName"] for farm in deadline.list_farms()["farms"]] == ["Local Farm"]
    queues = deadline.list_queues(farmId=first.farm_id)["queues"]
    assert [queue["displayName"] for queue in queues] == ["Default"]
    fleet = deadline.get_fleet(farmId=first.farm_id, fleetId=first.fleet_id)
    assert fleet["displayName"] == "Local Workers"
    assert "customerManaged" in fleet["configuration"]
    associations = deadline.list_queue_fleet_associations(farmId=first.farm_id)["queueFleetAssociations"]
    assert [(item["queueId"], item["fleetId"], item["status"]) for item in associations] == [
        (first.queue_id, first.fleet_id, "ACTIVE")
    ]


def test_the_status_line_counts_queued_tasks(server: ServerProcess) -> None:
    deadline: Any = server.client("deadline")
    resources = bootstrap_farm(deadline, server.admin.account_id)
    ids = {"farmId": resources.farm_id, "queueId": resources.queue_id}

    # Given a farm without workers and two jobs: one task, and 3 frames plus a dependent encode task
    for example, parameters in (
        ("hello", {}),
        ("frame_render", {"Frames": {"string": "1-3"}, "OutputDir": {"path": "/tmp/frames"}}),
    ):
        deadline.create_job(
            **ids,
            template=(EXAMPLES / example / "template.yaml").read_text(),
            templateType="YAML",
            priority=50,
            parameters=parameters,
        )

    # When the status line is computed
    counts = task_counts(deadline, resources.farm_id, resources.queue_id)
    state = FarmState(data_dir="/unused", supervisor_pid=1, url=server.url, workers=2)
    line = status_line(state, 0, counts)

    # Then it shows five tasks waiting (four ready, one pending on its dependency) and none running
    assert (counts.queued, counts.running, counts.active_jobs) == (5, 0, 2)
    assert line == "workers 0/2 · running 0 · assigned 0 · queued 5 · succeeded 0 · failed 0"

    # When a worker takes a task, it is assigned; once the worker reports it started, it is running
    worker = SyntheticWorker(server, resources.farm_id, resources.fleet_id)
    answer = worker.poll()
    ((_, session),) = answer["assignedSessions"].items()
    run = next(a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"])
    counts = task_counts(deadline, resources.farm_id, resources.queue_id)
    assert (counts.running, counts.assigned, counts.queued) == (0, 1, 4)
    worker.report_running(run)
    worker.poll()
    counts = task_counts(deadline, resources.farm_id, resources.queue_id)
    assert (counts.running, counts.assigned, counts.queued) == (1, 0, 4)


def test_the_farm_description_counts_its_workers_in_words() -> None:
    one = FarmState(data_dir="/d", supervisor_pid=1, url="http://x", workers=1, fleet_id="fleet-1")
    assert "(1 worker)" in _describe(one) and "(1/1 worker)" in _describe(one, 1)
    two = FarmState(data_dir="/d", supervisor_pid=1, url="http://x", workers=2, fleet_id="fleet-1")
    assert "(0/2 workers)" in _describe(two, 0)


def test_the_local_fleet_declares_this_machines_capabilities(server: ServerProcess) -> None:
    deadline: Any = server.client("deadline")
    resources = bootstrap_farm(deadline, server.admin.account_id)
    ids = {"farmId": resources.farm_id, "fleetId": resources.fleet_id}
    # Given a fleet left with an open range by an earlier start
    open_range = {
        "mode": "NO_SCALING",
        "workerCapabilities": {
            "vCpuCount": {"min": 1},
            "memoryMiB": {"min": 512},
            "osFamily": "LINUX",
            "cpuArchitectureType": "x86_64",
        },
    }
    deadline.update_fleet(**ids, configuration={"customerManaged": open_range})
    # When the farm starts again
    bootstrap_farm(deadline, server.admin.account_id)
    # Then the fleet declares exactly what this machine's workers report
    declared = deadline.get_fleet(**ids)["configuration"]["customerManaged"]["workerCapabilities"]
    vcpus = os.cpu_count()
    assert declared["vCpuCount"] == {"min": vcpus, "max": vcpus}
    assert declared["memoryMiB"]["min"] == declared["memoryMiB"]["max"] > 0
    # And steps are judged against it as Deadline Cloud judges them: within this machine's vCPUs
    # a step is compatible, beyond them it is NOT_COMPATIBLE
    queue = {"farmId": resources.farm_id, "queueId": resources.queue_id}

    def vcpu_job(minimum: int) -> str:
        template = {
            "specificationVersion": "jobtemplate-2023-09",
            "name": f"needs {minimum} vCPUs",
            "steps": [
                {
                    "name": "S",
                    "hostRequirements": {"amounts": [{"name": "amount.worker.vcpu", "min": minimum}]},
                    "script": {"actions": {"onRun": {"command": "true"}}},
                }
            ],
        }
        return str(
            deadline.create_job(**queue, template=json.dumps(template), templateType="JSON", priority=50)[
                "jobId"
            ]
        )

    fits, too_big = vcpu_job(1), vcpu_job(100000)
    deadline_at = time.monotonic() + 30
    while deadline.get_job(**queue, jobId=too_big)["taskRunStatus"] != "NOT_COMPATIBLE":
        assert time.monotonic() < deadline_at, "the step beyond this machine never became NOT_COMPATIBLE"
        time.sleep(0.2)
    assert deadline.get_job(**queue, jobId=fits)["taskRunStatus"] == "READY"


def test_the_default_queue_gets_a_bucket_of_the_farm_on_the_next_start(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "farm") as server:
        deadline: Any = server.client("deadline")
        s3: Any = server.client("s3")
        # Given a farm bootstrapped before it had an object store (no settings on its queue)
        before = bootstrap_farm(deadline, server.admin.account_id)
        assert "jobAttachmentSettings" not in deadline.get_queue(
            farmId=before.farm_id, queueId=before.queue_id
        )
        # When it starts again with the farm's S3 endpoint (twice: a restart changes nothing)
        after = bootstrap_farm(deadline, server.admin.account_id, s3=s3)
        assert bootstrap_farm(deadline, server.admin.account_id, s3=s3) == after == before
        # Then the queue keeps attachments in a bucket of the farm, named as no AWS bucket can be
        settings = deadline.get_queue(farmId=after.farm_id, queueId=after.queue_id)["jobAttachmentSettings"]
        assert settings == {"s3BucketName": default_bucket_name(after.farm_id), "rootPrefix": "DeadlineCloud"}
        assert settings["s3BucketName"].startswith("sthree-")
        assert settings["s3BucketName"] in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        # And settings someone chose are left alone on later starts
        chosen = {"s3BucketName": "studio", "rootPrefix": "mine"}
        deadline.update_queue(farmId=after.farm_id, queueId=after.queue_id, jobAttachmentSettings=chosen)
        bootstrap_farm(deadline, server.admin.account_id, s3=s3)
        assert (
            deadline.get_queue(farmId=after.farm_id, queueId=after.queue_id)["jobAttachmentSettings"]
            == chosen
        )
