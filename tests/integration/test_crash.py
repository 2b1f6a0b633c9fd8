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
