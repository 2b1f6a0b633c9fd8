"""Queue environments and storage profiles through a real boto3 client, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.timeout(120)

ENVIRONMENT_YAML = """
specificationVersion: environment-2023-09
parameterDefinitions:
- name: RenderQuality
  type: STRING
  default: high
environment:
  name: {name}
  script:
    actions:
      onEnter:
        command: echo
        args: ["entering"]
"""


def _environment_json(name: str) -> str:
    return json.dumps(
        {
            "specificationVersion": "environment-2023-09",
            "environment": {"name": name, "variables": {"A": "1"}},
        }
    )


@pytest.fixture
def farm(deadline_any: Any) -> str:
    return str(deadline_any.create_farm(displayName="environments farm")["farmId"])


@pytest.fixture
def queue(deadline_any: Any, farm: str) -> str:
    return str(deadline_any.create_queue(farmId=farm, displayName="q")["queueId"])


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_queue_environment_round_trip(deadline_any: Any, farm: str, queue: str) -> None:
    # Given a YAML environment template
    template = ENVIRONMENT_YAML.format(name="Licences")
    # When it becomes a queue environment
    env_id = deadline_any.create_queue_environment(
        farmId=farm, queueId=queue, priority=5, templateType="YAML", template=template
    )["queueEnvironmentId"]
    env = deadline_any.get_queue_environment(farmId=farm, queueId=queue, queueEnvironmentId=env_id)
    # Then its name comes from the template and the template is returned verbatim
    assert env_id.startswith("queueenv-")
    assert env["name"] == "Licences"
    assert (env["priority"], env["templateType"], env["template"]) == (5, "YAML", template)
    # When the template is replaced by a JSON one
    deadline_any.update_queue_environment(
        farmId=farm,
        queueId=queue,
        queueEnvironmentId=env_id,
        templateType="JSON",
        template=_environment_json("Renamed"),
        priority=7,
    )
    env = deadline_any.get_queue_environment(farmId=farm, queueId=queue, queueEnvironmentId=env_id)
    assert (env["name"], env["priority"], env["templateType"]) == ("Renamed", 7, "JSON")
    assert env["updatedAt"] >= env["createdAt"]
    # And deleting it removes it
    deadline_any.delete_queue_environment(farmId=farm, queueId=queue, queueEnvironmentId=env_id)
    with pytest.raises(ClientError) as info:
        deadline_any.get_queue_environment(farmId=farm, queueId=queue, queueEnvironmentId=env_id)
    assert _code(info) == "ResourceNotFoundException"


def test_environments_list_by_priority_then_creation(deadline_any: Any, farm: str, queue: str) -> None:
    # Given environments created with priorities 20, 10, 20, 5
    created = []
    for index, priority in enumerate((20, 10, 20, 5)):
        created.append(
            deadline_any.create_queue_environment(
                farmId=farm,
                queueId=queue,
                priority=priority,
                templateType="JSON",
                template=_environment_json(f"Env{index}"),
            )["queueEnvironmentId"]
        )
    # When they are listed one page of two at a time
    names: list[str] = []
    token = None
    while True:
        extra = {"nextToken": token} if token else {}
        page = deadline_any.list_queue_environments(farmId=farm, queueId=queue, maxResults=2, **extra)
        names += [e["name"] for e in page["environments"]]
        token = page.get("nextToken")
        if not token:
            break
    # Then lower priority values come first, equal priorities in creation order
    assert names == ["Env3", "Env1", "Env0", "Env2"]


@pytest.mark.parametrize(
    ("template_type", "template", "fragment"),
    [
        ("JSON", "{not json", "not valid JSON"),
        ("YAML", "specificationVersion: environment-2023-09\n", "environment"),
        ("JSON", json.dumps({"specificationVersion": "jobtemplate-2023-09", "name": "x"}), "template"),
    ],
)
def test_invalid_environment_templates_are_refused(
    deadline_any: Any, farm: str, queue: str, template_type: str, template: str, fragment: str
) -> None:
    with pytest.raises(ClientError) as info:
        deadline_any.create_queue_environment(
            farmId=farm, queueId=queue, priority=1, templateType=template_type, template=template
        )
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "template"
    assert fragment in info.value.response["Error"]["Message"]


def test_templates_over_the_size_limit_are_refused(deadline_any: Any, farm: str, queue: str) -> None:
    padding = "x" * 15001
    with pytest.raises(ClientError) as info:
        deadline_any.create_queue_environment(
            farmId=farm, queueId=queue, priority=1, templateType="YAML", template=padding
        )
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "template"


def test_storage_profiles_and_their_queue_views(deadline_any: Any, farm: str) -> None:
    # Given two storage profiles, only one of them allowed on the queue (which requires its location)
    allowed = deadline_any.create_storage_profile(
        farmId=farm,
        displayName="linux",
        osFamily="LINUX",
        fileSystemLocations=[{"name": "Assets", "path": "/mnt/assets", "type": "SHARED"}],
    )["storageProfileId"]
    other = deadline_any.create_storage_profile(farmId=farm, displayName="win", osFamily="WINDOWS")[
        "storageProfileId"
    ]
    queue = deadline_any.create_queue(
        farmId=farm,
        displayName="q",
        allowedStorageProfileIds=[allowed],
        requiredFileSystemLocationNames=["Assets"],
    )["queueId"]
    # Then the farm lists both, the queue only the allowed one
    farm_list = deadline_any.list_storage_profiles(farmId=farm)["storageProfiles"]
    assert [p["storageProfileId"] for p in farm_list] == [allowed, other]
    queue_list = deadline_any.list_storage_profiles_for_queue(farmId=farm, queueId=queue)["storageProfiles"]
    assert [(p["storageProfileId"], p["osFamily"]) for p in queue_list] == [(allowed, "LINUX")]
    for_queue = deadline_any.get_storage_profile_for_queue(
        farmId=farm, queueId=queue, storageProfileId=allowed
    )
    assert for_queue["fileSystemLocations"] == [{"name": "Assets", "path": "/mnt/assets", "type": "SHARED"}]
    with pytest.raises(ClientError) as info:
        deadline_any.get_storage_profile_for_queue(farmId=farm, queueId=queue, storageProfileId=other)
    assert _code(info) == "ResourceNotFoundException"
    # When locations are added and removed
    deadline_any.update_storage_profile(
        farmId=farm,
        storageProfileId=allowed,
        displayName="linux render",
        fileSystemLocationsToAdd=[{"name": "Scratch", "path": "/scratch", "type": "LOCAL"}],
        fileSystemLocationsToRemove=[{"name": "Assets", "path": "/mnt/assets", "type": "SHARED"}],
    )
    profile = deadline_any.get_storage_profile(farmId=farm, storageProfileId=allowed)
    assert profile["displayName"] == "linux render"
    assert profile["fileSystemLocations"] == [{"name": "Scratch", "path": "/scratch", "type": "LOCAL"}]
    # And a profile a queue allows cannot be deleted until the queue lets it go
    with pytest.raises(ClientError) as in_use:
        deadline_any.delete_storage_profile(farmId=farm, storageProfileId=allowed)
    assert _code(in_use) == "ConflictException"
    deadline_any.update_queue(farmId=farm, queueId=queue, allowedStorageProfileIdsToRemove=[allowed])
    assert deadline_any.list_storage_profiles_for_queue(farmId=farm, queueId=queue)["storageProfiles"] == []
    deadline_any.delete_storage_profile(farmId=farm, storageProfileId=allowed)
    remaining = deadline_any.list_storage_profiles(farmId=farm)["storageProfiles"]
    assert [p["storageProfileId"] for p in remaining] == [other]


def test_duplicate_location_names_are_invalid(deadline_any: Any, farm: str) -> None:
    with pytest.raises(ClientError) as info:
        deadline_any.create_storage_profile(
            farmId=farm,
            displayName="dup",
            osFamily="LINUX",
            fileSystemLocations=[
                {"name": "A", "path": "/a", "type": "SHARED"},
                {"name": "A", "path": "/b", "type": "LOCAL"},
            ],
        )
    assert _code(info) == "ValidationException"
