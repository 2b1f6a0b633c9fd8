"""The embedded farm's resources and its status line, against a real server."""

from __future__ import annotations

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
