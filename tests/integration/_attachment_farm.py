"""A farm whose queues keep job attachments in the farm's own object store, and a workstation for it.

Two queues share one bucket under their own prefixes: "farmhand" (a fleet with a farmhand worker)
and "aws" (a fleet for the unmodified AWS worker agent). The workstation is a home directory with an
AWS profile whose `services` section sends every client to the farm, and a deadline config.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _management import create_fleet
from _worker_farm import Farm

from farmhand.testing import ServerProcess

BUCKET = "farm-attachments"
PROFILE = "attachments"
FARMHAND_CLI = str(Path(sys.executable).with_name("farmhand"))
DEADLINE_CLI = str(Path(sys.executable).with_name("deadline"))


@dataclass
class AttachmentFarm:
    server: ServerProcess
    farm: Farm
    home: Path
    queues: dict[str, str] = field(default_factory=dict)  # "farmhand"/"aws" -> queue id
    fleets: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """A workstation's environment: its own AWS and deadline config files, nothing else."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEADLINE_"))}
        env.update(
            HOME=str(self.home),
            AWS_CONFIG_FILE=str(self.home / ".aws" / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.home / ".aws" / "credentials"),
            DEADLINE_CONFIG_FILE_PATH=str(self.home / ".deadline" / "config"),
            DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
        )
        return env

    def run(self, *command: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def farmhand(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(FARMHAND_CLI, *args)

    def deadline(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(DEADLINE_CLI, *args)

    def ids(self, kind: str) -> list[str]:
        return ["--farm-id", self.farm.farm_id, "--queue-id", self.queues[kind]]

    def wait(self, kind: str, job_id: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        client = self.farm.deadline
        while True:
            job = dict(client.get_job(farmId=self.farm.farm_id, queueId=self.queues[kind], jobId=job_id))
            if job["taskRunStatus"] in ("SUCCEEDED", "FAILED", "CANCELED", "SUSPENDED", "NOT_COMPATIBLE"):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is still {job['taskRunStatus']}")
            time.sleep(0.3)

    def actions(self, kind: str, job_id: str) -> list[dict[str, Any]]:
        pages = self.farm.deadline.get_paginator("list_session_actions").paginate(
            farmId=self.farm.farm_id, queueId=self.queues[kind], jobId=job_id
        )
        return [a for page in pages for a in page["sessionActions"]]

    def session_logs(self, kind: str, job_id: str) -> str:
        pages = self.farm.deadline.get_paginator("list_sessions").paginate(
            farmId=self.farm.farm_id, queueId=self.queues[kind], jobId=job_id
        )
        lines: list[str] = []
        for page in pages:
            for session in page["sessions"]:
                group = f"/aws/deadline/{self.farm.farm_id}/{self.queues[kind]}"
                events = self.farm.logs.get_log_events(
                    logGroupName=group, logStreamName=session["sessionId"], startFromHead=True, limit=10000
                )["events"]
                lines += [e["message"] for e in events]
        return "\n".join(lines)


def build_attachment_farm(server: ServerProcess, home: Path) -> AttachmentFarm:
    server.client("s3").create_bucket(Bucket=BUCKET)
    farm = Farm(server)
    built = AttachmentFarm(server, farm, home)
    deadline = farm.deadline
    deadline.update_queue(
        farmId=farm.farm_id,
        queueId=farm.queue_id,
        jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": "FarmhandQueue"},
    )
    built.queues["farmhand"], built.fleets["farmhand"] = farm.queue_id, farm.fleet_id
    aws_queue = deadline.create_queue(
        farmId=farm.farm_id,
        displayName="aws",
        jobRunAsUser={"runAs": "WORKER_AGENT_USER"},
        roleArn="arn:aws:iam::123456789012:role/aws-queue",
        jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": "AwsQueue"},
    )["queueId"]
    aws_fleet = create_fleet(deadline, farm.farm_id, "aws", max_workers=2)
    deadline.create_queue_fleet_association(farmId=farm.farm_id, queueId=aws_queue, fleetId=aws_fleet)
    built.queues["aws"], built.fleets["aws"] = aws_queue, aws_fleet
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    services = "\n".join(
        f"{name} =\n  endpoint_url = {server.url}" for name in ("deadline", "s3", "sts", "cloudwatch_logs")
    )
    (home / ".aws" / "config").write_text(
        f"[profile {PROFILE}]\nregion = us-west-2\nservices = {PROFILE}\n"
        f"disable_host_prefix_injection = true\n\n[services {PROFILE}]\n{services}\n"
    )
    admin = server.admin
    (home / ".aws" / "credentials").write_text(
        f"[{PROFILE}]\naws_access_key_id = {admin.access_key_id}\n"
        f"aws_secret_access_key = {admin.secret_access_key}\n"
    )
    (home / ".deadline").mkdir(exist_ok=True)
    (home / ".deadline" / "config").write_text(
        f"[defaults]\naws_profile_name = {PROFILE}\n\n[telemetry]\nopt_out = true\n\n"
        f"[profile-{PROFILE} defaults]\nfarm_id = {farm.farm_id}\n\n"
        f"[profile-{PROFILE} {farm.farm_id} defaults]\nqueue_id = {farm.queue_id}\n"
    )
    return built


UPPER_TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "upper",
    "parameterDefinitions": [
        {"name": "InFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"},
        {"name": "InDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "IN"},
        {"name": "OutDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "OUT"},
    ],
    "steps": [
        {
            "name": "Upper",
            "script": {
                "actions": {"onRun": {"command": "bash", "args": ["{{Task.File.Run}}"]}},
                "embeddedFiles": [
                    {
                        "name": "Run",
                        "type": "TEXT",
                        "data": "set -e\nmkdir -p '{{Param.OutDir}}/sub'\n"
                        "tr a-z A-Z < '{{Param.InFile}}' > '{{Param.OutDir}}/upper.txt'\n"
                        "cat '{{Param.InDir}}'/*.txt '{{Param.InDir}}'/nested/*.txt"
                        " > '{{Param.OutDir}}/sub/all.txt'\n",
                    }
                ],
            },
        }
    ],
}


def write_project(root: Path) -> dict[str, str]:
    """A submitter's project: an input file, an input directory with a nested one, an output dir."""
    (root / "inputs" / "nested").mkdir(parents=True)
    (root / "scene.txt").write_text("hello attachments\n")
    (root / "inputs" / "a.txt").write_text("first\n")
    (root / "inputs" / "b.txt").write_text("second\n")
    (root / "inputs" / "nested" / "c.txt").write_text("third\n")
    return {
        "InFile": str(root / "scene.txt"),
        "InDir": str(root / "inputs"),
        "OutDir": str(root / "renders"),
    }


def write_bundle(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "template.json").write_text(json.dumps(UPPER_TEMPLATE))
    return directory


def move_away(root: Path) -> Path:
    """The submitter's tree is gone from where the job says it is (the worker cannot read it)."""
    moved = root.with_name(root.name + "-moved")
    shutil.move(str(root), str(moved))
    return moved
