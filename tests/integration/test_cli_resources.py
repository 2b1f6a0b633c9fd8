"""`farmhand` config, auth, farm, queue, fleet and worker commands against a real farm server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_farm import PROFILE, CliWorkstation, make_workstation

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def station(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorkstation]:
    yield make_workstation(server, tmp_path_factory.mktemp("cli-resources"))


def test_config_set_get_clear_round_trip(station: CliWorkstation) -> None:
    # Given the workstation config written for the farm
    # When a setting is set, read, and cleared
    assert station.run("config", "set", "settings.log_level", "INFO").exit_code == 0
    got = station.run("config", "get", "settings.log_level")
    cleared = station.run("config", "clear", "settings.log_level")
    after = station.run("config", "get", "settings.log_level")
    # Then each step is visible in the shared config file
    assert got.stdout.strip() == "INFO"
    assert cleared.exit_code == 0
    assert after.stdout.strip() == "WARNING"
    assert "log_level = WARNING" in station.deadline_config.read_text()


def test_config_show_json_lists_every_setting_and_the_file(station: CliWorkstation) -> None:
    result = station.run("config", "show", "--json")
    assert result.exit_code == 0, result.output
    settings = json.loads(result.stdout)
    assert settings["settings.config_file_path"] == str(station.deadline_config)
    assert settings["defaults.aws_profile_name"] == PROFILE
    assert settings["defaults.farm_id"] == station.farm_id
    assert settings["defaults.queue_id"] == station.queue_id


def test_config_rejects_an_unknown_setting(station: CliWorkstation) -> None:
    result = station.run("config", "set", "defaults.no_such_thing", "x")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: AWS Deadline Cloud configuration has no setting named 'defaults.no_such_thing'."
    )


def test_auth_status_reports_an_authenticated_profile(station: CliWorkstation) -> None:
    result = station.run("auth", "status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "profile": PROFILE,
        "source": "HOST_PROVIDED",
        "status": "AUTHENTICATED",
        "apiAvailability": True,
    }


def test_auth_status_of_a_missing_profile_exits_non_zero(station: CliWorkstation) -> None:
    result = station.run("auth", "status", "--profile", "nobody")
    assert result.exit_code == 1
    assert "CONFIGURATION_ERROR" in result.stdout
    assert "'nobody' does not exist" in result.stdout


def test_farm_list_and_get(station: CliWorkstation) -> None:
    listed = station.run("farm", "list", "--json")
    assert listed.exit_code == 0, listed.output
    farms = {farm["farmId"]: farm for farm in json.loads(listed.stdout)["farms"]}
    assert farms[station.farm_id]["displayName"] == "CLI farm"
    assert farms[station.farm_id]["region"] == "us-west-2"

    table = station.run("farm", "list")
    assert station.farm_id in table.stdout and "CLI farm" in table.stdout

    got = station.run("farm", "get", "--json")
    assert got.exit_code == 0, got.output
    farm = json.loads(got.stdout)
    assert farm["farmId"] == station.farm_id
    assert "ResponseMetadata" not in farm
    human = station.run("farm", "get")
    assert f"farmId: {station.farm_id}" in human.stdout


def test_queue_list_get_and_paramdefs(station: CliWorkstation) -> None:
    listed = station.run("queue", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [q["queueId"] for q in json.loads(listed.stdout)["queues"]] == [station.queue_id]

    got = station.run("queue", "get", "--json")
    assert json.loads(got.stdout)["displayName"] == "CLI queue"

    paramdefs = station.run("queue", "paramdefs", "--json")
    assert paramdefs.exit_code == 0, paramdefs.output
    assert json.loads(paramdefs.stdout) == {"parameterDefinitions": []}
    assert "define no job parameters" in station.run("queue", "paramdefs").stdout


def test_queue_commands_pick_the_only_queue_when_none_is_configured(
    station: CliWorkstation, tmp_path: Path
) -> None:
    # Given a workstation whose config names the farm but no queue
    bare = CliWorkstation(
        tmp_path, station.url, station.access_key_id, station.secret_access_key, farm_id=station.farm_id
    ).write_files()
    # When the queue is shown
    result = bare.run("queue", "get", "--json")
    # Then the farm's only queue is used, and nothing is written to the config file
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["queueId"] == station.queue_id
    assert station.queue_id not in bare.deadline_config.read_text()


def test_fleet_list_and_get_by_fleet_and_by_queue(station: CliWorkstation) -> None:
    listed = json.loads(station.run("fleet", "list", "--json").stdout)
    assert [f["fleetId"] for f in listed["fleets"]] == [station.fleet_id]

    by_id = json.loads(station.run("fleet", "get", "--fleet-id", station.fleet_id, "--json").stdout)
    assert by_id["displayName"] == "CLI fleet"

    by_queue = station.run("fleet", "get", "--queue-id", station.queue_id, "--json")
    assert by_queue.exit_code == 0, by_queue.output
    fleets = json.loads(by_queue.stdout)["fleets"]
    assert [(f["fleetId"], f["associationStatus"]) for f in fleets] == [(station.fleet_id, "ACTIVE")]

    # With no option, the default queue's only fleet
    by_default = station.run("fleet", "get", "--json")
    assert by_default.exit_code == 0, by_default.output
    assert json.loads(by_default.stdout)["fleetId"] == station.fleet_id


def test_worker_list_of_a_fleet_without_workers(station: CliWorkstation) -> None:
    result = station.run("worker", "list", "--fleet-id", station.fleet_id, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workers"] == []
    assert "No workers." in station.run("worker", "list").stdout


def test_options_override_the_config_without_writing_it(
    station: CliWorkstation, server: ServerProcess
) -> None:
    # Given a second farm that the config does not name
    other = server.client("deadline").create_farm(displayName="Other farm")["farmId"]
    before = station.deadline_config.read_text()
    # When a command is pointed at it with --farm-id
    result = station.run("farm", "get", "--farm-id", other, "--json")
    # Then that farm is shown and the config file is unchanged
    assert json.loads(result.stdout)["displayName"] == "Other farm"
    assert station.deadline_config.read_text() == before


def test_profile_option_never_reaches_the_config_file_even_with_telemetry_on(
    station: CliWorkstation, tmp_path: Path
) -> None:
    # Given a second AWS profile, and telemetry left on (the identifier gets written on first use)
    other = CliWorkstation(
        tmp_path, station.url, station.access_key_id, station.secret_access_key, farm_id=station.farm_id
    ).write_files()
    aws_config = Path(str(other.env["AWS_CONFIG_FILE"]))
    aws_config.write_text(
        aws_config.read_text().replace(f"[profile {PROFILE}]", "[profile plain]", 1)
        + f"\n[profile {PROFILE}]\nregion = us-west-2\n"
    )
    credentials = Path(str(other.env["AWS_SHARED_CREDENTIALS_FILE"]))
    credentials.write_text(credentials.read_text().replace(f"[{PROFILE}]", "[plain]"))
    other.extra_env["DEADLINE_CLOUD_TELEMETRY_OPT_OUT"] = ""
    # When a command runs with --profile plain, in a fresh process (telemetry starts once per process)
    result = other.run_process("farm", "list", "--profile", "plain", "--json")
    # Then it used that profile, and the config file still names the configured one
    assert result.returncode == 0, result.stderr
    assert station.farm_id in result.stdout
    written = other.deadline_config.read_text()
    assert "identifier = " in written  # the file was written during the command
    assert "aws_profile_name = plain" not in written
    assert f"aws_profile_name = {PROFILE}" in written


def test_queue_paramdefs_honours_the_profile_option(station: CliWorkstation, tmp_path: Path) -> None:
    # Given a config whose default profile does not exist
    broken = CliWorkstation(
        tmp_path,
        station.url,
        station.access_key_id,
        station.secret_access_key,
        farm_id=station.farm_id,
        queue_id=station.queue_id,
    ).write_files()
    broken.deadline_config.write_text(
        broken.deadline_config.read_text().replace(f"aws_profile_name = {PROFILE}", "aws_profile_name = gone")
    )
    # When the queue's parameters are read with --profile (and the farm and queue named)
    result = broken.run(
        "queue",
        "paramdefs",
        "--profile",
        PROFILE,
        "--farm-id",
        station.farm_id,
        "--queue-id",
        station.queue_id,
    )
    # Then the named profile is used throughout
    assert result.exit_code == 0, result.output
    assert "define no job parameters" in result.stdout
