"""Acknowledged writes survive `kill -9` of the server: restart on the same store, everything is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _management import create_fleet

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_cluster").new_database())


def test_acknowledged_writes_survive_kill_9(tmp_path: Path, database_url: str | None) -> None:
    # Given a server that has acknowledged a farm, queues, a fleet, an association and a rename
    data_dir = tmp_path / "farm"
    server = ServerProcess(data_dir, database_url=database_url).start()
    try:
        deadline = server.client("deadline")
        farm_id = deadline.create_farm(displayName="durable")["farmId"]
        queue_ids = [deadline.create_queue(farmId=farm_id, displayName=f"q{i}")["queueId"] for i in range(20)]
        fleet_id = create_fleet(deadline, farm_id, "durable fleet")
        deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_ids[0], fleetId=fleet_id)
        deadline.update_queue(farmId=farm_id, queueId=queue_ids[-1], displayName="last write")
        # When it is killed with SIGKILL right after the last answer
        server.kill()
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode == -9
    # Then a new server on the same store has every acknowledged write
    with ServerProcess(data_dir, database_url=database_url) as restarted:
        after: Any = restarted.client("deadline")
        assert after.get_farm(farmId=farm_id)["displayName"] == "durable"
        listed = after.list_queues(farmId=farm_id)["queues"]
        assert [q["queueId"] for q in listed] == queue_ids
        assert after.get_queue(farmId=farm_id, queueId=queue_ids[-1])["displayName"] == "last write"
        assert after.get_fleet(farmId=farm_id, fleetId=fleet_id)["status"] == "ACTIVE"
        association = after.get_queue_fleet_association(
            farmId=farm_id, queueId=queue_ids[0], fleetId=fleet_id
        )
        assert association["status"] == "ACTIVE"
        # And the same admin credentials still work, and new writes are accepted
        assert restarted.admin.access_key_id == server.admin.access_key_id
        after.create_queue(farmId=farm_id, displayName="after restart")


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


def test_a_job_whose_tasks_were_still_being_written_fails_cleanly_after_kill_9(tmp_path: Path) -> None:
    # Given a server writing the tasks of a very large job in the background (above the default
    # limit of tasks per job, so that the kill surely lands while they are written)
    data_dir = tmp_path / "farm"
    server = ServerProcess(data_dir, extra_args=["--max-tasks-per-job", "2000000"]).start()
    try:
        deadline: Any = server.client("deadline")
        farm_id = deadline.create_farm(displayName="big jobs")["farmId"]
        queue_id = deadline.create_queue(farmId=farm_id, displayName="q")["queueId"]
        job_id = deadline.create_job(
            farmId=farm_id,
            queueId=queue_id,
            template=FRAMES_TEMPLATE,
            templateType="YAML",
            priority=50,
            parameters={"Frames": {"string": "1-2000000"}},
        )["jobId"]
        in_flight = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)["lifecycleStatus"]
        # When the server is killed while that job is still being created
        server.kill()
    finally:
        server.stop()
    if in_flight != "CREATE_IN_PROGRESS":
        pytest.skip("the job finished creating before the kill; nothing was interrupted")
    # Then after a restart the job is CREATE_FAILED with a reason, not stuck in progress forever
    with ServerProcess(data_dir) as restarted:
        job = restarted.client("deadline").get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        assert job["lifecycleStatus"] == "CREATE_FAILED"
        assert job["lifecycleStatusMessage"]
