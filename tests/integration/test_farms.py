"""Farms through a real boto3 client: botocore parses every answer with the real model."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_create_get_update_list_delete_farm(deadline: Any) -> None:
    # Given a new farm
    farm_id = deadline.create_farm(displayName="Render farm", description="main")["farmId"]
    # When it is read back
    farm = deadline.get_farm(farmId=farm_id)
    # Then every member is there, in AWS form
    assert farm["farmId"] == farm_id
    assert farm["displayName"] == "Render farm"
    assert farm["createdAt"].tzinfo is not None
    assert farm["createdBy"].startswith("arn:aws:iam::")
    deadline.update_farm(farmId=farm_id, displayName="Renamed")
    assert deadline.get_farm(farmId=farm_id)["displayName"] == "Renamed"
    listed = [f["farmId"] for page in deadline.get_paginator("list_farms").paginate() for f in page["farms"]]
    assert farm_id in listed
    deadline.delete_farm(farmId=farm_id)
    with pytest.raises(ClientError) as info:
        deadline.get_farm(farmId=farm_id)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert info.value.response["resourceId"] == farm_id
