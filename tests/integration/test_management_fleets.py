"""Fleets and queue-fleet associations through a real boto3 client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from _management import FLEET_ROLE, create_fleet, customer_managed, store_of
from botocore.exceptions import ClientError

from farmhand.server.store import sessions, workers
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def farm(deadline_any: Any) -> str:
    return str(deadline_any.create_farm(displayName="fleets farm")["farmId"])


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def _insert_worker(server: ServerProcess, farm_id: str, fleet_id: str, status: str) -> str:
    worker_id = f"worker-{uuid.uuid4().hex}"
    store = store_of(server)
    try:
        with store.write() as conn:
            conn.execute(
                workers.insert().values(
                    worker_id=worker_id,
                    farm_id=farm_id,
                    fleet_id=fleet_id,
                    status=status,
                    created_at=dt.datetime.now(dt.UTC),
                    created_by="test",
                )
            )
    finally:
        store.dispose()
    return worker_id


def _set_worker_status(server: ServerProcess, worker_id: str, status: str) -> None:
    store = store_of(server)
    try:
        with store.write() as conn:
            conn.execute(workers.update().where(workers.c.worker_id == worker_id).values(status=status))
    finally:
        store.dispose()


def _open_session(server: ServerProcess, farm_id: str, queue_id: str, fleet_id: str) -> str:
    session_id = f"session-{uuid.uuid4().hex}"
    store = store_of(server)
    try:
        with store.write() as conn:
            conn.execute(
                sessions.insert().values(
                    session_id=session_id,
                    farm_id=farm_id,
                    queue_id=queue_id,
                    job_id=f"job-{uuid.uuid4().hex}",
                    fleet_id=fleet_id,
                    worker_id=f"worker-{uuid.uuid4().hex}",
                    lifecycle_status="STARTED",
                    next_action_index=0,
                    started_at=dt.datetime.now(dt.UTC),
                )
            )
    finally:
        store.dispose()
    return session_id


def _end_session(server: ServerProcess, session_id: str) -> None:
    store = store_of(server)
    try:
        with store.write() as conn:
            conn.execute(
                sessions.update()
                .where(sessions.c.session_id == session_id)
                .values(lifecycle_status="ENDED", ended_at=dt.datetime.now(dt.UTC))
            )
    finally:
        store.dispose()


def test_customer_managed_fleet_round_trip(deadline_any: Any, farm: str) -> None:
    # Given a customer-managed fleet with GPUs and a custom amount and attribute
    configuration = customer_managed(
        acceleratorTypes=["gpu"],
        acceleratorCount={"min": 1, "max": 2},
        customAmounts=[{"name": "amount.licence", "min": 1, "max": 4}],
        customAttributes=[{"name": "attr.site", "values": ["paris"]}],
    )
    fleet_id = create_fleet(
        deadline_any, farm, "GPU fleet", configuration=configuration, minWorkerCount=1, tags={"a": "b"}
    )
    # When it is read back
    fleet = deadline_any.get_fleet(farmId=farm, fleetId=fleet_id)
    # Then it is ACTIVE at once, with no workers, and capabilities derived from the configuration
    assert re.fullmatch(r"fleet-[0-9a-f]{32}", fleet_id)
    assert fleet["status"] == "ACTIVE"
    assert fleet["workerCount"] == 0
    assert (fleet["minWorkerCount"], fleet["maxWorkerCount"]) == (1, 4)
    assert fleet["roleArn"] == FLEET_ROLE
    assert fleet["configuration"] == configuration
    amounts = {a["name"]: (a["min"], a.get("max")) for a in fleet["capabilities"]["amounts"]}
    assert amounts == {
        "amount.worker.vcpu": (2.0, 8.0),
        "amount.worker.memory": (2048.0, None),
        "amount.worker.gpu": (1.0, 2.0),
        "amount.licence": (1.0, 4.0),
    }
    attributes = {a["name"]: a["values"] for a in fleet["capabilities"]["attributes"]}
    assert attributes == {
        "attr.worker.os.family": ["linux"],
        "attr.worker.cpu.arch": ["x86_64"],
        "attr.site": ["paris"],
    }
    # And the FleetActive waiter is satisfied
    deadline_any.get_waiter("fleet_active").wait(farmId=farm, fleetId=fleet_id)


def test_service_managed_fleets_are_refused(deadline_any: Any, farm: str) -> None:
    configuration = {
        "serviceManagedEc2": {
            "instanceCapabilities": {
                "vCpuCount": {"min": 2},
                "memoryMiB": {"min": 2048},
                "osFamily": "LINUX",
                "cpuArchitectureType": "x86_64",
            },
            "instanceMarketOptions": {"type": "on-demand"},
        }
    }
    with pytest.raises(ClientError) as info:
        create_fleet(deadline_any, farm, configuration=configuration)
    assert _code(info) == "ValidationException"
    assert "customer-managed" in info.value.response["Error"]["Message"]


def test_min_above_max_is_invalid(deadline_any: Any, farm: str) -> None:
    with pytest.raises(ClientError) as info:
        create_fleet(deadline_any, farm, minWorkerCount=5)
    assert _code(info) == "ValidationException"


def test_update_fleet_recomputes_capabilities(deadline_any: Any, farm: str) -> None:
    fleet_id = create_fleet(deadline_any, farm)
    deadline_any.update_fleet(
        farmId=farm,
        fleetId=fleet_id,
        displayName="arm fleet",
        maxWorkerCount=10,
        configuration=customer_managed(cpuArchitectureType="arm64"),
    )
    fleet = deadline_any.get_fleet(farmId=farm, fleetId=fleet_id)
    assert fleet["displayName"] == "arm fleet"
    assert fleet["maxWorkerCount"] == 10
    arch = [a for a in fleet["capabilities"]["attributes"] if a["name"] == "attr.worker.cpu.arch"]
    assert arch == [{"name": "attr.worker.cpu.arch", "values": ["arm64"]}]
    assert fleet["updatedAt"] >= fleet["createdAt"]


def test_worker_count_and_delete_conflict_follow_the_workers_table(
    deadline_any: Any, server_any: ServerProcess, farm: str
) -> None:
    # Given a fleet with one started and one stopped worker
    fleet_id = create_fleet(deadline_any, farm)
    started = _insert_worker(server_any, farm, fleet_id, "STARTED")
    _insert_worker(server_any, farm, fleet_id, "STOPPED")
    # Then only the started worker counts, in Get and List alike
    assert deadline_any.get_fleet(farmId=farm, fleetId=fleet_id)["workerCount"] == 1
    listed = deadline_any.list_fleets(farmId=farm)["fleets"]
    assert [(f["fleetId"], f["workerCount"]) for f in listed] == [(fleet_id, 1)]
    # And the fleet cannot be deleted while that worker is not stopped
    with pytest.raises(ClientError) as info:
        deadline_any.delete_fleet(farmId=farm, fleetId=fleet_id)
    assert _code(info) == "ConflictException"
    assert info.value.response["resourceId"] == fleet_id
    # When the worker stops, the fleet can go
    _set_worker_status(server_any, started, "STOPPED")
    deadline_any.delete_fleet(farmId=farm, fleetId=fleet_id)
    assert deadline_any.list_fleets(farmId=farm)["fleets"] == []


def test_list_fleets_filters(deadline_any: Any, farm: str) -> None:
    first = create_fleet(deadline_any, farm, "alpha")
    create_fleet(deadline_any, farm, "beta")
    named = deadline_any.list_fleets(farmId=farm, displayName="alpha")["fleets"]
    assert [f["fleetId"] for f in named] == [first]
    assert len(deadline_any.list_fleets(farmId=farm, status="ACTIVE")["fleets"]) == 2
    assert deadline_any.list_fleets(farmId=farm, status="SUSPENDED")["fleets"] == []


def test_association_lifecycle(deadline_any: Any, server_any: ServerProcess, farm: str) -> None:
    # Given a queue associated with a fleet
    queue_id = deadline_any.create_queue(farmId=farm, displayName="q")["queueId"]
    fleet_id = create_fleet(deadline_any, farm)
    deadline_any.create_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    association = deadline_any.get_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    assert association["status"] == "ACTIVE"
    assert association["createdBy"].startswith("arn:aws:iam::")
    # Then a second association of the same pair conflicts
    with pytest.raises(ClientError) as again:
        deadline_any.create_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    assert _code(again) == "ConflictException"
    # And neither side can be deleted while associated; nor can the active association
    for delete in (
        lambda: deadline_any.delete_queue(farmId=farm, queueId=queue_id),
        lambda: deadline_any.delete_fleet(farmId=farm, fleetId=fleet_id),
        lambda: deadline_any.delete_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id),
    ):
        with pytest.raises(ClientError) as info:
            delete()
        assert _code(info) == "ConflictException"
    # When the association stops scheduling while a session of the queue is open on the fleet
    session_id = _open_session(server_any, farm, queue_id, fleet_id)
    deadline_any.update_queue_fleet_association(
        farmId=farm, queueId=queue_id, fleetId=fleet_id, status="STOP_SCHEDULING_AND_COMPLETE_TASKS"
    )
    # Then it stays stopping until that session ends, then reads STOPPED
    get = deadline_any.get_queue_fleet_association
    assert get(farmId=farm, queueId=queue_id, fleetId=fleet_id)["status"] == (
        "STOP_SCHEDULING_AND_COMPLETE_TASKS"
    )
    _end_session(server_any, session_id)
    assert get(farmId=farm, queueId=queue_id, fleetId=fleet_id)["status"] == "STOPPED"
    deadline_any.get_waiter("queue_fleet_association_stopped").wait(
        farmId=farm, queueId=queue_id, fleetId=fleet_id
    )
    # And a stopped association can be deleted, after which the queue can be too
    deadline_any.delete_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    with pytest.raises(ClientError) as gone:
        get(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    assert _code(gone) == "ResourceNotFoundException"
    deadline_any.delete_queue(farmId=farm, queueId=queue_id)


def test_list_associations_filters_by_queue_and_fleet(deadline_any: Any, farm: str) -> None:
    queues = [deadline_any.create_queue(farmId=farm, displayName=f"q{i}")["queueId"] for i in range(2)]
    fleets = [create_fleet(deadline_any, farm, f"f{i}") for i in range(2)]
    for queue_id in queues:
        for fleet_id in fleets:
            deadline_any.create_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    listed = deadline_any.list_queue_fleet_associations
    assert len(listed(farmId=farm)["queueFleetAssociations"]) == 4
    by_queue = listed(farmId=farm, queueId=queues[0])["queueFleetAssociations"]
    assert {(a["queueId"], a["fleetId"]) for a in by_queue} == {(queues[0], f) for f in fleets}
    by_fleet = listed(farmId=farm, fleetId=fleets[1])["queueFleetAssociations"]
    assert {(a["queueId"], a["fleetId"]) for a in by_fleet} == {(q, fleets[1]) for q in queues}
    both = listed(farmId=farm, queueId=queues[1], fleetId=fleets[0])["queueFleetAssociations"]
    assert [(a["queueId"], a["fleetId"]) for a in both] == [(queues[1], fleets[0])]


def test_association_with_unknown_queue_or_fleet_is_not_found(deadline_any: Any, farm: str) -> None:
    queue_id = deadline_any.create_queue(farmId=farm, displayName="q")["queueId"]
    fleet_id = create_fleet(deadline_any, farm)
    missing_fleet = "fleet-" + "0" * 32
    missing_queue = "queue-" + "0" * 32
    with pytest.raises(ClientError) as no_fleet:
        deadline_any.create_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=missing_fleet)
    assert (_code(no_fleet), no_fleet.value.response["resourceId"]) == (
        "ResourceNotFoundException",
        missing_fleet,
    )
    with pytest.raises(ClientError) as no_queue:
        deadline_any.create_queue_fleet_association(farmId=farm, queueId=missing_queue, fleetId=fleet_id)
    assert no_queue.value.response["resourceId"] == missing_queue
