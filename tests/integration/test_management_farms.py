"""Farms on SQLite and on PostgreSQL: the same answers from both stores."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.timeout(120)


def test_farm_round_trip(deadline_any: Any) -> None:
    # Given a farm with every member set
    farm_id = deadline_any.create_farm(
        displayName="Both stores", description="d", costScaleFactor=42.5, tags={"k": "v"}
    )["farmId"]
    # When it is read, updated and read again
    farm = deadline_any.get_farm(farmId=farm_id)
    deadline_any.update_farm(farmId=farm_id, description="changed", costScaleFactor=1)
    updated = deadline_any.get_farm(farmId=farm_id)
    # Then each answer is in AWS form
    assert re.fullmatch(r"farm-[0-9a-f]{32}", farm_id)
    assert (farm["displayName"], farm["description"], farm["costScaleFactor"]) == ("Both stores", "d", 42.5)
    assert (updated["description"], updated["costScaleFactor"]) == ("changed", 1.0)
    assert updated["updatedAt"] >= updated["createdAt"] == farm["createdAt"]
    deadline_any.delete_farm(farmId=farm_id)
    with pytest.raises(ClientError) as info:
        deadline_any.get_farm(farmId=farm_id)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_farms_pages_through_every_farm_once(deadline_any: Any) -> None:
    created = {deadline_any.create_farm(displayName=f"paged {i}")["farmId"] for i in range(7)}
    paginator = deadline_any.get_paginator("list_farms")
    listed = [
        f["farmId"] for page in paginator.paginate(PaginationConfig={"PageSize": 3}) for f in page["farms"]
    ]
    assert len(listed) == len(set(listed))
    assert created <= set(listed)
    stranger = "0123456789-01234567-89ab-cdef-0123-456789abcdef"
    assert deadline_any.list_farms(principalId=stranger)["farms"] == []


def test_create_farm_client_token_replays_and_conflicts(deadline_any: Any) -> None:
    first = deadline_any.create_farm(displayName="token farm", clientToken="farm-token-1")["farmId"]
    assert deadline_any.create_farm(displayName="token farm", clientToken="farm-token-1")["farmId"] == first
    with pytest.raises(ClientError) as info:
        deadline_any.create_farm(displayName="another farm", clientToken="farm-token-1")
    assert info.value.response["Error"]["Code"] == "ConflictException"
