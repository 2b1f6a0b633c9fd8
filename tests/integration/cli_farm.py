"""A workstation pointed at a real farm for the `farmhand` CLI tests.

The CLI reaches the farm only the way a user's does: an AWS profile with a `[services]` section and a
credentials file, plus a deadline config naming the profile, farm and queue, all through env vars.
`run` drives the real click group in-process (fast); `run_process` starts the installed `farmhand`
console script (the real entry point, for exit codes and stderr as a shell sees them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from farmhand.client.cli import cli
from farmhand.testing import ServerProcess

PROFILE = "cli-test"
FARMHAND = str(Path(sys.executable).with_name("farmhand"))
BUNDLES = Path(__file__).resolve().parents[1] / "bundles"

HELLO_TEMPLATE = """\
specificationVersion: 'jobtemplate-2023-09'
name: CLI Hello
parameterDefinitions:
- name: Greeting
  type: STRING
  default: hello
- name: Count
  type: INT
  default: 1
  minValue: 1
steps:
- name: Say
  parameterSpace:
    taskParameterDefinitions:
    - name: N
      type: INT
      range: '1-{{Param.Count}}'
  script:
    actions:
      onRun:
        command: bash
        args: ['-c', 'echo "{{Param.Greeting}} number {{Task.Param.N}}"']
"""

FAILING_TEMPLATE = """\
specificationVersion: 'jobtemplate-2023-09'
name: CLI Failing
steps:
- name: Work
  parameterSpace:
    taskParameterDefinitions:
    - name: Frame
      type: INT
      range: '1-2'
  script:
    actions:
      onRun:
        command: bash
        args: ['{{Task.File.Run}}']
    embeddedFiles:
    - name: Run
      type: TEXT
      data: |
        echo "working on frame {{Task.Param.Frame}}"
        if [ {{Task.Param.Frame}} = 2 ]; then
          echo "cannot open scene.blend: no such file" >&2
          exit 3
        fi
"""

# Variables of the caller's shell that would take the CLI to another account or farm.
_CALLER_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DEADLINE",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_S3",
)


def write_bundle(directory: Path, template: str = HELLO_TEMPLATE, **files: str) -> Path:
    """A job bundle directory with this template (and e.g. parameter_values.yaml=...)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "template.yaml").write_text(template)
    for name, text in files.items():
        (directory / name.replace("_yaml", ".yaml").replace("_json", ".json")).write_text(text)
    return directory


@dataclass
class CliWorkstation:
    """Config files under `root` that point at one farm; the CLI runs with only these."""

    root: Path
    url: str
    access_key_id: str
    secret_access_key: str
    farm_id: str = ""
    queue_id: str = ""
    fleet_id: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def deadline_config(self) -> Path:
        return self.root / "deadline" / "config"

    @property
    def env(self) -> dict[str, str | None]:
        environment: dict[str, str | None] = dict.fromkeys(_CALLER_VARIABLES)
        environment.update(
            AWS_CONFIG_FILE=str(self.root / "aws" / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.root / "aws" / "credentials"),
            DEADLINE_CONFIG_FILE_PATH=str(self.deadline_config),
            DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
        )
        environment.update(self.extra_env)
        return environment

    def write_files(self) -> CliWorkstation:
        (self.root / "aws").mkdir(parents=True, exist_ok=True)
        (self.root / "deadline").mkdir(parents=True, exist_ok=True)
        services = "".join(
            f"{service} =\n  endpoint_url = {self.url}\n"
            for service in ("deadline", "cloudwatch_logs", "sts", "s3")
        )
        (self.root / "aws" / "config").write_text(
            f"[profile {PROFILE}]\nregion = us-west-2\nservices = {PROFILE}\n"
            f"disable_host_prefix_injection = true\n\n[services {PROFILE}]\n{services}"
        )
        (self.root / "aws" / "credentials").write_text(
            f"[{PROFILE}]\naws_access_key_id = {self.access_key_id}\n"
            f"aws_secret_access_key = {self.secret_access_key}\n"
        )
        self.deadline_config.write_text(
            textwrap.dedent(
                f"""\
                [defaults]
                aws_profile_name = {PROFILE}

                [profile-{PROFILE} defaults]
                farm_id = {self.farm_id}

                [profile-{PROFILE} {self.farm_id} defaults]
                queue_id = {self.queue_id}
                """
            )
        )
        return self

    def run(self, *args: str, input: str | None = None) -> Result:
        """`farmhand ARGS` in this process, through the real click group (the environment is restored)."""
        return CliRunner().invoke(cli, list(args), env=self.env, input=input, catch_exceptions=True)

    def process_env(self) -> dict[str, str]:
        """The environment of a child process: the caller's, minus its AWS settings, plus this station's."""
        env = {k: v for k, v in os.environ.items() if k not in _CALLER_VARIABLES}
        env.update({k: v for k, v in self.env.items() if v is not None})
        return env

    def run_process(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The installed `farmhand` console script, as a shell runs it."""
        return subprocess.run(
            [FARMHAND, *args],
            env=self.process_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A worker agent in the station's fleet: `farmhand worker --farm-id F --fleet-id L --profile P`."""
        log = open(self.root / "worker.log", "ab")  # noqa: SIM115 - closed when the process is reaped
        return subprocess.Popen(
            [
                FARMHAND,
                "worker",
                "--farm-id",
                self.farm_id,
                "--fleet-id",
                self.fleet_id,
                "--profile",
                PROFILE,
                "--data-dir",
                str(self.root / "worker"),
                "--poll-wait-seconds",
                "1",
            ],
            env=self.process_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def make_workstation(server: ServerProcess, root: Path) -> CliWorkstation:
    """A farm with one queue and one customer-managed fleet associated with it, and a workstation."""
    deadline: Any = server.client("deadline")
    farm_id = deadline.create_farm(displayName="CLI farm")["farmId"]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="CLI queue")["queueId"]
    fleet_id = deadline.create_fleet(
        farmId=farm_id,
        displayName="CLI fleet",
        roleArn="arn:aws:iam::123456789012:role/cli-fleet",
        minWorkerCount=0,
        maxWorkerCount=4,
        configuration={
            "customerManaged": {
                "mode": "NO_SCALING",
                "workerCapabilities": {
                    "vCpuCount": {"min": 1},
                    "memoryMiB": {"min": 512},
                    "osFamily": "LINUX",
                    "cpuArchitectureType": "x86_64",
                },
            }
        },
    )["fleetId"]
    deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    admin = server.admin
    return CliWorkstation(
        root=root,
        url=server.url,
        access_key_id=admin.access_key_id,
        secret_access_key=admin.secret_access_key,
        farm_id=farm_id,
        queue_id=queue_id,
        fleet_id=fleet_id,
    ).write_files()
