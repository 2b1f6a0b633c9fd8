"""The embedded farm's resources and its status line, against a real server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from farmhand.local import FarmState, bootstrap_farm
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
    assert line == "workers 0/2 · running 0 · queued 5 · succeeded 0 · failed 0"


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
