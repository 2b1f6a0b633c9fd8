"""`farmhand farm/queue/fleet/queue-fleet-association/storage-profile create` against a real farm."""

from __future__ import annotations

import json
import uuid
from configparser import ConfigParser
from typing import Any

import pytest
from cli_farm import PROFILE, CliWorkstation, make_workstation

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def station(server: ServerProcess, tmp_path: Any) -> CliWorkstation:
    return make_workstation(server, tmp_path)


def defaults(station: CliWorkstation) -> tuple[str, str]:
    config = ConfigParser()
    config.read(station.deadline_config)
    farm = config.get(f"profile-{PROFILE} defaults", "farm_id")
    queue = config.get(f"profile-{PROFILE} {farm} defaults", "queue_id", fallback="")
    return farm, queue


def test_a_farm_is_set_up_from_the_cli(station: CliWorkstation, deadline: Any) -> None:
    # When an operator creates a farm, a queue, a fleet, their association and a storage profile
    farm = station.run("farm", "create", "Studio", "--description", "made by the CLI", "--json")
    assert farm.exit_code == 0, farm.output
    farm_id = json.loads(farm.output)["farmId"]
    queue = station.run("queue", "create", "Renders", "--json")
    assert queue.exit_code == 0, queue.output
    queue_id = json.loads(queue.output)["queueId"]
    fleet = station.run("fleet", "create", "Render nodes", "--max-workers", "8", "--json")
    assert fleet.exit_code == 0, fleet.output
    fleet_id = json.loads(fleet.output)["fleetId"]
    associated = station.run(
        "queue-fleet-association", "create", "--queue", "Renders", "--fleet", "Render nodes"
    )
    storage = station.run(
        "storage-profile",
        "create",
        "Linux workstations",
        "--os-family",
        "LINUX",
        "--location",
        "Projects=/mnt/projects",
        "--location",
        "Scratch=/tmp/scratch:LOCAL",
        "--json",
    )

    # Then the farm has them, and the new farm and queue are the profile's defaults
    assert associated.exit_code == 0, associated.output
    assert storage.exit_code == 0, storage.output
    assert defaults(station) == (farm_id, queue_id)
    assert deadline.get_farm(farmId=farm_id)["description"] == "made by the CLI"
    assert (
        deadline.get_queue(farmId=farm_id, queueId=queue_id)["jobRunAsUser"]["runAs"] == "WORKER_AGENT_USER"
    )
    fleet_doc = deadline.get_fleet(farmId=farm_id, fleetId=fleet_id)
    assert fleet_doc["maxWorkerCount"] == 8 and "customerManaged" in fleet_doc["configuration"]
    (association,) = deadline.list_queue_fleet_associations(farmId=farm_id)["queueFleetAssociations"]
    assert (association["queueId"], association["fleetId"]) == (queue_id, fleet_id)
    storage_id = json.loads(storage.output)["storageProfileId"]
    locations = deadline.get_storage_profile(farmId=farm_id, storageProfileId=storage_id)[
        "fileSystemLocations"
    ]
    assert {(loc["name"], loc["path"], loc["type"]) for loc in locations} == {
        ("Projects", "/mnt/projects", "SHARED"),
        ("Scratch", "/tmp/scratch", "LOCAL"),
    }
    listed = json.loads(station.run("storage-profile", "list", "--json").output)["storageProfiles"]
    assert [p["storageProfileId"] for p in listed] == [storage_id]


def test_queues_can_run_jobs_as_a_configured_user(station: CliWorkstation, deadline: Any) -> None:
    created = station.run(
        "queue", "create", "Shots", "--run-as-user", "render:artists", "--no-defaults", "--json"
    )

    assert created.exit_code == 0, created.output
    queue = deadline.get_queue(farmId=station.farm_id, queueId=json.loads(created.output)["queueId"])
    assert queue["jobRunAsUser"] == {
        "posix": {"user": "render", "group": "artists"},
        "runAs": "QUEUE_CONFIGURED_USER",
    }
    assert defaults(station)[1] == station.queue_id  # --no-defaults left the default queue alone


def test_names_that_do_not_say_which_resource_are_refused(station: CliWorkstation) -> None:
    station.run("fleet", "create", "Twin", "--json")
    station.run("fleet", "create", "Twin", "--json")

    ambiguous = station.run(
        "queue-fleet-association", "create", "--queue", station.queue_id, "--fleet", "Twin"
    )
    unknown = station.run("queue-fleet-association", "create", "--queue", "No such queue", "--fleet", "Twin")
    bad_location = station.run(
        "storage-profile", "create", "X", "--os-family", "LINUX", "--location", "nopath"
    )

    assert ambiguous.exit_code == 2 and "2 fleets named 'Twin'" in ambiguous.output
    assert unknown.exit_code == 2 and "no queue named 'No such queue'" in unknown.output
    assert bad_location.exit_code == 2 and "NAME=PATH" in bad_location.output


def test_users_and_groups_become_members_by_name(station: CliWorkstation, deadline: Any) -> None:
    name, group = f"member-{uuid.uuid4().hex[:6]}", f"crew-{uuid.uuid4().hex[:6]}"
    created = station.run("user", "create", name, "--password-stdin", "--json", input="long enough\n")
    user_id = json.loads(created.output)["principalId"]
    group_id = json.loads(station.run("group", "create", group, "--json").output)["principalId"]

    on_farm = station.run("farm", "add-member", "--user", name, "--level", "CONTRIBUTOR")
    on_queue = station.run("queue", "add-member", "--group", group, "--level", "MANAGER")
    neither = station.run("farm", "add-member", "--level", "VIEWER")

    assert on_farm.exit_code == 0, on_farm.output
    assert on_queue.exit_code == 0, on_queue.output
    assert neither.exit_code == 2 and "--user NAME or --group NAME" in neither.output
    farm_members = deadline.list_farm_members(farmId=station.farm_id)["members"]
    assert [m["membershipLevel"] for m in farm_members if m["principalId"] == user_id] == ["CONTRIBUTOR"]
    queue_members = deadline.list_queue_members(farmId=station.farm_id, queueId=station.queue_id)["members"]
    assert [(m["principalId"], m["principalType"], m["membershipLevel"]) for m in queue_members] == [
        (group_id, "GROUP", "MANAGER")
    ]
