"""Tags by ARN, queue-role credentials and STS GetCallerIdentity, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from _management import create_fleet
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def farm(deadline_any: Any) -> str:
    return str(deadline_any.create_farm(displayName="access farm", tags={"cost": "1"})["farmId"])


def _arn(server: ServerProcess, path: str) -> str:
    return f"arn:aws:deadline:us-west-2:{server.admin.account_id}:{path}"


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def _session_from(credentials: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        region_name="us-west-2",
    )


def test_tags_on_farms_queues_and_fleets(deadline_any: Any, server_any: ServerProcess, farm: str) -> None:
    # Given a farm created with a tag, a queue and a fleet
    queue = deadline_any.create_queue(farmId=farm, displayName="q", tags={"dept": "fx"})["queueId"]
    fleet = create_fleet(deadline_any, farm)
    farm_arn = _arn(server_any, f"farm/{farm}")
    queue_arn = _arn(server_any, f"farm/{farm}/queue/{queue}")
    fleet_arn = _arn(server_any, f"farm/{farm}/fleet/{fleet}")
    # Then the tags given at creation are there
    assert deadline_any.list_tags_for_resource(resourceArn=farm_arn)["tags"] == {"cost": "1"}
    assert deadline_any.list_tags_for_resource(resourceArn=queue_arn)["tags"] == {"dept": "fx"}
    assert deadline_any.list_tags_for_resource(resourceArn=fleet_arn)["tags"] == {}
    # When tags are added, overwritten and removed
    deadline_any.tag_resource(resourceArn=fleet_arn, tags={"site": "paris", "tier": "gold"})
    deadline_any.tag_resource(resourceArn=fleet_arn, tags={"tier": "silver"})
    deadline_any.untag_resource(resourceArn=fleet_arn, tagKeys=["site"])
    # Then the listing shows the result
    assert deadline_any.list_tags_for_resource(resourceArn=fleet_arn)["tags"] == {"tier": "silver"}


def test_tags_of_missing_resources_are_not_found(
    deadline_any: Any, server_any: ServerProcess, farm: str
) -> None:
    missing = [
        _arn(server_any, "farm/farm-" + "0" * 32),
        _arn(server_any, f"farm/{farm}/queue/queue-" + "0" * 32),
        _arn(server_any, f"farm/{farm}/fleet/fleet-" + "0" * 32),
        f"arn:aws:deadline:eu-west-1:999999999999:farm/{farm}",
    ]
    for arn in missing:
        with pytest.raises(ClientError) as info:
            deadline_any.tag_resource(resourceArn=arn, tags={"a": "b"})
        assert _code(info) == "ResourceNotFoundException", arn
    with pytest.raises(ClientError) as listing:
        deadline_any.list_tags_for_resource(resourceArn=missing[1])
    assert _code(listing) == "ResourceNotFoundException"


def test_deleted_resources_lose_their_tags(deadline_any: Any, server_any: ServerProcess, farm: str) -> None:
    queue = deadline_any.create_queue(farmId=farm, displayName="q", tags={"a": "b"})["queueId"]
    deadline_any.delete_queue(farmId=farm, queueId=queue)
    with pytest.raises(ClientError) as info:
        deadline_any.list_tags_for_resource(resourceArn=_arn(server_any, f"farm/{farm}/queue/{queue}"))
    assert _code(info) == "ResourceNotFoundException"


def test_queue_role_for_user_is_accepted_and_bound_to_its_queue(
    deadline_any: Any, server_any: ServerProcess, farm: str
) -> None:
    # Given two queues
    queue = deadline_any.create_queue(farmId=farm, displayName="mine")["queueId"]
    other = deadline_any.create_queue(farmId=farm, displayName="other")["queueId"]
    # When the user assumes the queue role of the first
    before = dt.datetime.now(dt.UTC)
    credentials = deadline_any.assume_queue_role_for_user(farmId=farm, queueId=queue)["credentials"]
    # Then all four fields are set and they last at least an hour
    for member in ("accessKeyId", "secretAccessKey", "sessionToken"):
        assert credentials[member]
    assert credentials["accessKeyId"].startswith("ASIA")
    assert credentials["expiration"] >= before + dt.timedelta(hours=1)
    # And a boto3 client built from them reads that queue
    role_session = _session_from(credentials)
    role_deadline = server_any.client("deadline", session=role_session)
    assert role_deadline.get_queue(farmId=farm, queueId=queue)["displayName"] == "mine"
    # But not another queue
    with pytest.raises(ClientError) as info:
        role_deadline.get_queue(farmId=farm, queueId=other)
    assert _code(info) == "AccessDeniedException"
    # And STS names the assumed role
    identity = server_any.client("sts", session=role_session).get_caller_identity()
    assert identity["Arn"] == (
        f"arn:aws:sts::{server_any.admin.account_id}:assumed-role/farmhand-queue-{queue}/admin"
    )
    assert identity["Account"] == server_any.admin.account_id


def test_queue_role_for_read_cannot_write(deadline_any: Any, server_any: ServerProcess, farm: str) -> None:
    queue = deadline_any.create_queue(farmId=farm, displayName="read me")["queueId"]
    credentials = deadline_any.assume_queue_role_for_read(farmId=farm, queueId=queue)["credentials"]
    reader = server_any.client("deadline", session=_session_from(credentials))
    assert reader.get_queue(farmId=farm, queueId=queue)["displayName"] == "read me"
    with pytest.raises(ClientError) as info:
        reader.update_queue(farmId=farm, queueId=queue, displayName="changed")
    assert _code(info) == "AccessDeniedException"
    assert deadline_any.get_queue(farmId=farm, queueId=queue)["displayName"] == "read me"


def test_queue_role_of_an_unknown_queue_is_not_found(deadline_any: Any, farm: str) -> None:
    with pytest.raises(ClientError) as info:
        deadline_any.assume_queue_role_for_user(farmId=farm, queueId="queue-" + "0" * 32)
    assert _code(info) == "ResourceNotFoundException"


def test_get_caller_identity_for_the_admin(server_any: ServerProcess) -> None:
    identity = server_any.client("sts").get_caller_identity()
    assert identity["Account"] == server_any.admin.account_id
    assert identity["Arn"] == server_any.admin.principal_arn
    assert identity["UserId"]


def test_fleet_role_for_read_reads_only_its_fleet(
    deadline_any: Any, server_any: ServerProcess, farm: str
) -> None:
    # Given two fleets and read credentials for the first
    fleet = create_fleet(deadline_any, farm, "watched")
    other = create_fleet(deadline_any, farm, "other")
    credentials = deadline_any.assume_fleet_role_for_read(farmId=farm, fleetId=fleet)["credentials"]
    assert credentials["expiration"] >= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59)
    reader = server_any.client("deadline", session=_session_from(credentials))
    # Then they read that fleet, but neither another fleet nor any write
    assert reader.get_fleet(farmId=farm, fleetId=fleet)["displayName"] == "watched"
    with pytest.raises(ClientError) as elsewhere:
        reader.get_fleet(farmId=farm, fleetId=other)
    assert _code(elsewhere) == "AccessDeniedException"
    with pytest.raises(ClientError) as write:
        reader.update_fleet(farmId=farm, fleetId=fleet, displayName="changed")
    assert _code(write) == "AccessDeniedException"
    identity = server_any.client("sts", session=_session_from(credentials)).get_caller_identity()
    assert f"assumed-role/farmhand-fleet-{fleet}-read/" in identity["Arn"]
