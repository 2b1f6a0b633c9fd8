"""The AWS `deadline` CLI, configured only through an AWS profile, lists our farms and queues."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _management import create_fleet

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)

DEADLINE_CLI = Path(sys.executable).with_name("deadline")


def _profile_environment(server: ServerProcess, home: Path) -> dict[str, str]:
    """An environment whose only route to the farm is the `farmhand` profile in a temp AWS config."""
    admin = server.admin
    aws_config = home / "aws-config"
    aws_config.write_text(
        "[profile farmhand]\n"
        "region = us-west-2\n"
        "services = farmhand-services\n"
        "disable_host_prefix_injection = true\n"
        "\n"
        "[services farmhand-services]\n"
        + "".join(
            f"{service} =\n  endpoint_url = {server.url}\n"
            for service in ("deadline", "cloudwatch_logs", "s3", "sts")
        )
    )
    credentials = home / "aws-credentials"
    credentials.write_text(
        "[farmhand]\n"
        f"aws_access_key_id = {admin.access_key_id}\n"
        f"aws_secret_access_key = {admin.secret_access_key}\n"
    )
    deadline_config = home / "deadline-config"
    deadline_config.write_text("[defaults]\naws_profile_name = farmhand\n")
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DEADLINE_")) or key == "AWS_DATA_PATH"
    }
    environment.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(aws_config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        DEADLINE_CONFIG_FILE_PATH=str(deadline_config),
        DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
    )
    return environment


def _deadline(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(DEADLINE_CLI), *args], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"deadline {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.skipif(not DEADLINE_CLI.exists(), reason="the AWS deadline CLI is not installed in this env")
def test_deadline_cli_lists_farms_and_queues(server: ServerProcess, tmp_path: Path) -> None:
    # Given a farm with two queues
    deadline = server.client("deadline")
    farm_id = deadline.create_farm(displayName="CLI visible farm")["farmId"]
    for name in ("Lighting queue", "Comp queue"):
        deadline.create_queue(farmId=farm_id, displayName=name)
    environment = _profile_environment(server, tmp_path)
    # When the AWS CLI lists farms and the farm's queues through the profile
    farms = _deadline(environment, "farm", "list")
    queues = _deadline(environment, "queue", "list", "--farm-id", farm_id)
    # Then it shows them by name and id
    assert "CLI visible farm" in farms
    assert farm_id in farms
    assert "Lighting queue" in queues
    assert "Comp queue" in queues


@pytest.mark.skipif(not DEADLINE_CLI.exists(), reason="the AWS deadline CLI is not installed in this env")
def test_deadline_cli_reads_farm_queue_fleet_and_queue_credentials(
    server: ServerProcess, tmp_path: Path
) -> None:
    # Given a farm with a queue (with a queue environment) associated with a fleet
    deadline = server.client("deadline")
    farm_id = deadline.create_farm(displayName="CLI detail farm")["farmId"]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="Detail queue")["queueId"]
    fleet_id = create_fleet(deadline, farm_id, "Detail fleet")
    deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    deadline.create_queue_environment(
        farmId=farm_id,
        queueId=queue_id,
        priority=1,
        templateType="YAML",
        template=(
            "specificationVersion: environment-2023-09\n"
            "parameterDefinitions:\n- name: QueueEnvSetting\n  type: STRING\n  default: high\n"
            "environment:\n  name: CLI env\n  variables:\n    A: '1'\n"
        ),
    )
    environment = _profile_environment(server, tmp_path)
    ids = ["--farm-id", farm_id]
    # When the AWS CLI reads each of them
    farm = _deadline(environment, "farm", "get", *ids)
    queue = _deadline(environment, "queue", "get", *ids, "--queue-id", queue_id)
    fleets = _deadline(environment, "fleet", "list", *ids)
    fleet = _deadline(environment, "fleet", "get", *ids, "--fleet-id", fleet_id)
    # (`fleet get` by queue reads the queue from the config defaults, whatever --queue-id says)
    Path(environment["DEADLINE_CONFIG_FILE_PATH"]).write_text(
        "[defaults]\naws_profile_name = farmhand\n\n"
        f"[profile-farmhand defaults]\nfarm_id = {farm_id}\n\n"
        f"[profile-farmhand {farm_id} defaults]\nqueue_id = {queue_id}\n"
    )
    associated = _deadline(environment, "fleet", "get")
    paramdefs = _deadline(environment, "queue", "paramdefs", *ids, "--queue-id", queue_id)
    credentials = json.loads(
        _deadline(environment, "queue", "export-credentials", *ids, "--queue-id", queue_id)
    )
    # Then every answer carries what the farm holds
    assert "CLI detail farm" in farm
    assert "Detail queue" in queue
    assert "Detail fleet" in fleets and fleet_id in fleets
    assert "Detail fleet" in fleet
    assert fleet_id in associated
    assert "QueueEnvSetting" in paramdefs
    assert credentials["Version"] == 1
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["SessionToken"] and credentials["Expiration"]
