"""The audit trail: every change and every denied call, in a log group the farm's owners read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _access_world import World, build_world, error_code

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> World:
    return build_world(server)


def audit_records(logs: Any, farm_id: str) -> list[dict[str, Any]]:
    group = f"/farmhand/audit/{farm_id}"
    events = logs.filter_log_events(logGroupName=group, limit=10_000)["events"]
    return [json.loads(e["message"]) for e in events]


def test_changes_and_denials_are_recorded_for_the_farm_owner(world: World) -> None:
    # Given a MANAGER who changes a job and a VIEWER who tries to
    manager, viewer = world.client("MANAGER"), world.client("VIEWER")
    ids = {"farmId": world.farm, "queueId": world.queue, "jobId": world.job}
    manager.update_job(**ids, priority=42)
    assert error_code(viewer.update_job, **ids, priority=1) == "AccessDeniedException"
    # When the farm's OWNER reads the farm's audit log group
    records = audit_records(world.client("OWNER", "logs"), world.farm)
    # Then both calls are there: time, principal, operation, resource, result
    resource = f"farm/{world.farm}/queue/{world.queue}/job/{world.job}"
    changed = [r for r in records if r["operation"] == "deadline:UpdateJob" and r["result"] == "ALLOWED"]
    denied = [r for r in records if r["operation"] == "deadline:UpdateJob" and r["result"] == "DENIED"]
    assert changed and changed[-1]["resource"] == resource
    assert changed[-1]["principalId"] == world.users["MANAGER"].principal_id
    assert denied and denied[-1]["principalId"] == world.users["VIEWER"].principal_id
    assert denied[-1]["resource"] == resource and denied[-1]["time"]
    # And the farm's creation and memberships were recorded too
    operations = {r["operation"] for r in records}
    assert {"deadline:CreateFarm", "deadline:AssociateMemberToFarm", "deadline:CreateJob"} <= operations
    # And reads that succeed are not recorded
    assert "deadline:GetJob" not in operations
    # And the day's stream counts what it holds, as any stream written with PutLogEvents does
    logs = world.client("OWNER", "logs")
    (stream,) = logs.describe_log_streams(logGroupName=f"/farmhand/audit/{world.farm}")["logStreams"]
    assert stream["storedBytes"] > 0
    assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]


def test_only_owners_read_the_audit_trail(world: World) -> None:
    group = f"/farmhand/audit/{world.farm}"
    for who in ("MANAGER", "VIEWER", "none", "queue-read", "fleet-read", "other-worker"):
        logs = world.client(who, "logs")
        assert error_code(logs.filter_log_events, logGroupName=group) == "AccessDeniedException", who
    # Nobody but the admin writes into it
    owner_logs = world.client("OWNER", "logs")
    code = error_code(
        owner_logs.put_log_events,
        logGroupName=group,
        logStreamName="forged",
        logEvents=[{"timestamp": 1, "message": "{}"}],
    )
    assert code == "AccessDeniedException"
    # And listing log groups shows an owner the audit group but not a viewer
    assert group in [g["logGroupName"] for g in owner_logs.describe_log_groups()["logGroups"]]
    viewer_groups = world.client("VIEWER", "logs").describe_log_groups()["logGroups"]
    assert group not in [g["logGroupName"] for g in viewer_groups]
