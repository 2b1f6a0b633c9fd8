"""From an empty PostgreSQL database to a user's finished job, with farmhand's CLI alone.

An operator starts `farmhand server --tls` on a fresh database, writes an admin profile from what
the first start printed, creates the farm's structure and a user, and makes the user a CONTRIBUTOR
of the farm; a worker joins the fleet; the user signs in on a workstation of their own (trusting
the farm's CA) and submits a job that runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from _sign_in_station import SignInStation
from farmhand.testing import ServerProcess

pytestmark = [pytest.mark.timeout(600), pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long password"


def cli(station: SignInStation, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    done = station.run("farmhand", *args, input=input, timeout=300)
    assert done.returncode == 0, f"farmhand {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def test_an_operator_reaches_a_running_farm_and_a_user_runs_a_job(pg_cluster: Any, tmp_path: Path) -> None:
    empty_database = str(pg_cluster.new_database())
    with ServerProcess(tmp_path / "server", database_url=empty_database, extra_args=["--tls"]) as server:
        # The first start says where the admin's credentials and the farm's CA are
        said = "".join(server.output)
        credentials = re.search(r"The admin's credentials are in (\S+)", said)
        ca = re.search(r"Clients verify the farm with the CA certificate (\S+)", said)
        assert credentials and ca, said
        operator = SignInStation(tmp_path / "operator")
        cli(
            operator,
            "profile",
            "add",
            "farm-admin",
            "--url",
            server.url,
            "--admin",
            "--admin-credentials",
            credentials.group(1),
            "--ca-bundle",
            ca.group(1),
        )
        farm_id = json.loads(cli(operator, "farm", "create", "Studio", "--json").stdout)["farmId"]
        queue_id = json.loads(cli(operator, "queue", "create", "Renders", "--json").stdout)["queueId"]
        fleet_id = json.loads(cli(operator, "fleet", "create", "Render nodes", "--json").stdout)["fleetId"]
        cli(operator, "queue-fleet-association", "create", "--queue", "Renders", "--fleet", "Render nodes")
        cli(
            operator,
            "storage-profile",
            "create",
            "Linux",
            "--os-family",
            "LINUX",
            "--location",
            "Projects=/mnt",
        )
        alice = json.loads(
            cli(
                operator, "user", "create", "alice", "--password-stdin", "--json", input=PASSWORD + "\n"
            ).stdout
        )
        cli(operator, "farm", "add-member", "--user", "alice", "--level", "CONTRIBUTOR")
        with operator.environment():
            admin = boto3.Session(profile_name="farm-admin").client("deadline")
            (member,) = admin.list_farm_members(farmId=farm_id)["members"][-1:]
        assert (member["principalId"], member["membershipLevel"]) == (alice["principalId"], "CONTRIBUTOR")

        # A worker joins the fleet (with the admin profile the operator wrote)
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("farmhand")),
                "worker",
                "--farm-id",
                farm_id,
                "--fleet-id",
                fleet_id,
                "--profile",
                "farm-admin",
                "--data-dir",
                str(tmp_path / "worker"),
                "--poll-wait-seconds",
                "1",
            ],
            env=operator.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # The user signs in on their own workstation and submits a job
            user = SignInStation(tmp_path / "alice")
            cli(
                user,
                "profile",
                "add",
                "studio",
                "--url",
                server.url,
                "--user",
                "alice",
                "--ca-bundle",
                ca.group(1),
            )
            cli(user, "login", "--password-stdin", input=PASSWORD + "\n")
            farms = json.loads(cli(user, "farm", "list", "--json").stdout)["farms"]
            assert [farm["farmId"] for farm in farms] == [farm_id]
            submitted = cli(
                user,
                "bundle",
                "submit",
                str(REPO / "examples" / "hello"),
                "--farm-id",
                farm_id,
                "--queue-id",
                queue_id,
                "--yes",
                "--wait",
            )
            job_id = re.search(r"job-[0-9a-f]{32}", submitted.stdout + submitted.stderr)
            assert job_id, submitted.stdout + submitted.stderr
            job: Any = admin.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id.group(0))
            assert job["taskRunStatus"] == "SUCCEEDED"
            assert job["createdBy"].endswith("/alice")
        finally:
            worker.terminate()
            worker.wait(timeout=60)
