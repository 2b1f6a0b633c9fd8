"""Command-line wall time: `farmhand` beside the AWS `deadline` CLI, against the same farm.

Both commands run as a user runs them (a fresh process each time), configured by the same AWS
profile (a `[services]` section pointing at a farm server started here) and the same deadline config.
Two figures: `--help` (start-up cost) and `bundle submit` of a one-task bundle without waiting for it
to run (start-up plus GetQueue, ListQueueEnvironments, CreateJob and the wait for CREATE_COMPLETE).
Targets: farmhand ≤ 0.5x deadline for `--help`, ≤ 0.7x for `bundle submit`.

    python benchmarks/cli.py            # 7 runs of each command
    python benchmarks/cli.py --quick    # 3 runs of each command
    python benchmarks/cli.py --telemetry  # leave client telemetry on (both CLIs send it to the farm)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from farmhand.testing import ServerProcess

PROFILE = "cli-benchmark"
BIN = Path(sys.executable).parent
TEMPLATE = """\
specificationVersion: 'jobtemplate-2023-09'
name: Benchmark
parameterDefinitions:
- name: Message
  type: STRING
  default: hi
steps:
- name: Say
  script:
    actions:
      onRun:
        command: echo
        args: ['{{Param.Message}}']
"""


def write_workstation(root: Path, server: ServerProcess, farm_id: str, queue_id: str) -> dict[str, str]:
    """AWS config/credentials and deadline config for both CLIs; the environment that selects them."""
    admin = server.admin
    services = "".join(
        f"{name} =\n  endpoint_url = {server.url}\n" for name in ("deadline", "cloudwatch_logs", "sts")
    )
    (root / "aws_config").write_text(
        f"[profile {PROFILE}]\nregion = us-west-2\nservices = {PROFILE}\n"
        f"disable_host_prefix_injection = true\n\n[services {PROFILE}]\n{services}"
    )
    (root / "aws_credentials").write_text(
        f"[{PROFILE}]\naws_access_key_id = {admin.access_key_id}\n"
        f"aws_secret_access_key = {admin.secret_access_key}\n"
    )
    (root / "deadline_config").write_text(
        f"[defaults]\naws_profile_name = {PROFILE}\n\n[profile-{PROFILE} defaults]\nfarm_id = {farm_id}\n\n"
        f"[profile-{PROFILE} {farm_id} defaults]\nqueue_id = {queue_id}\n\n"
        f"[settings]\nauto_accept = true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(root / "aws_config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "aws_credentials"),
        DEADLINE_CONFIG_FILE_PATH=str(root / "deadline_config"),
    )
    return env


@dataclass
class Timings:
    """Wall time (what the user waits) and CPU time (what the process burns; steadier on a busy host)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_pair(first: list[str], second: list[str], env: dict[str, str], runs: int) -> tuple[Timings, Timings]:
    """Two commands run alternately (so a busy machine slows both alike), after one untimed warm-up
    run of each that fills the OS file cache."""
    timings = (Timings(), Timings())
    for attempt in range(runs + 1):
        for command, bucket in ((first, timings[0]), (second, timings[1])):
            cpu_before, started = _children_cpu(), time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
            if result.returncode != 0:
                raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
            if attempt:
                bucket.wall.append(elapsed)
                bucket.cpu.append(cpu)
    return timings


def report(label: str, farmhand: Timings, deadline: Timings, target: float) -> None:
    ratio = statistics.median(farmhand.wall) / statistics.median(deadline.wall)
    cpu_ratio = statistics.median(farmhand.cpu) / statistics.median(deadline.cpu)
    verdict = "meets" if ratio <= target else "MISSES"
    print(f"{label}")
    for name, timings in (("farmhand", farmhand), ("deadline", deadline)):
        wall, fastest = statistics.median(timings.wall) * 1000, min(timings.wall) * 1000
        cpu = statistics.median(timings.cpu) * 1000
        print(
            f"  {name}  wall median {wall:7.0f} ms   min {fastest:7.0f} ms   cpu median {cpu:6.0f} ms"
            f"   ({len(timings.wall)} runs)"
        )
    print(f"  ratio     wall {ratio:.2f}x ({verdict} the {target}x target), cpu {cpu_ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 runs per command instead of 7")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--telemetry", action="store_true", help="leave client telemetry on")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)

    with tempfile.TemporaryDirectory(prefix="farmhand-cli-bench-") as scratch:
        root = Path(scratch)
        with ServerProcess(root / "farm") as server:
            deadline_client = server.client("deadline")
            farm_id = deadline_client.create_farm(displayName="CLI benchmark")["farmId"]
            queue_id = deadline_client.create_queue(farmId=farm_id, displayName="Benchmark queue")["queueId"]
            env = write_workstation(root, server, farm_id, queue_id)
            if not args.telemetry:
                env["DEADLINE_CLOUD_TELEMETRY_OPT_OUT"] = "true"
            bundle = root / "bundle"
            bundle.mkdir()
            (bundle / "template.yaml").write_text(TEMPLATE)

            farmhand, deadline = str(BIN / "farmhand"), str(BIN / "deadline")
            telemetry = "on" if args.telemetry else "off"
            print(f"farm server {server.url}, {runs} runs per command, telemetry {telemetry}")
            report("--help", *time_pair([farmhand, "--help"], [deadline, "--help"], env, runs), 0.5)
            submit = ["bundle", "submit", str(bundle), "--yes"]
            report(
                "bundle submit (one-task bundle, no wait)",
                *time_pair([farmhand, *submit], [deadline, *submit], env, runs),
                0.7,
            )


if __name__ == "__main__":
    main()
