"""The embedded farm's figures: `farmhand up` to ready, idle memory, hello example submit to SUCCEEDED.

    .venv/bin/python benchmarks/local_farm.py [--workers 2] [--runs 5]

Everything runs in a temporary directory with its own AWS and deadline config files.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil

REPO = Path(__file__).resolve().parents[1]
FARMHAND = str(Path(sys.executable).with_name("farmhand"))
HELLO = REPO / "examples" / "hello"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5, help="hello jobs to time, one after another")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="farmhand-bench-") as temp:
        root = Path(temp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(
            AWS_CONFIG_FILE=str(root / "aws" / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(root / "aws" / "credentials"),
            DEADLINE_CONFIG_FILE_PATH=str(root / "deadline" / "config"),
        )
        os.environ.update({key: env[key] for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")})
        data_dir = root / "farm"
        up = [FARMHAND, "up", "--detach", "--data-dir", str(data_dir), "--port", "0"]
        try:
            started = time.perf_counter()
            subprocess.run([*up, "--workers", str(args.workers)], env=env, check=True, capture_output=True)
            up_seconds = time.perf_counter() - started
            state = _status(env, data_dir)
            print(f"farmhand up --detach --workers {args.workers} to ready: {up_seconds:.2f} s")

            deadline = boto3.Session(profile_name="farmhand").client("deadline")
            _wait_for_workers(deadline, state, args.workers)
            time.sleep(3.0)
            pids = [state["supervisor_pid"], state["server_pid"], *state["worker_pids"]]
            rss = {pid: psutil.Process(pid).memory_info().rss for pid in pids}
            server_mib = rss[state["server_pid"]] / 2**20
            workers_mib = sum(rss[pid] for pid in state["worker_pids"]) / 2**20
            supervisor_mib = rss[state["supervisor_pid"]] / 2**20
            print(
                f"idle memory (RSS): server {server_mib:.0f} MiB, "
                f"{args.workers} workers {workers_mib:.0f} MiB "
                f"({workers_mib / max(args.workers, 1):.0f} each), supervisor {supervisor_mib:.0f} MiB, "
                f"total {sum(rss.values()) / 2**20:.0f} MiB"
            )

            template = (HELLO / "template.yaml").read_text()
            timings = [_hello_to_succeeded(deadline, state, template) for _ in range(args.runs)]
            print(
                f"hello example CreateJob to SUCCEEDED ({args.runs} runs): "
                f"median {statistics.median(timings):.2f} s, "
                f"min {min(timings):.2f} s, max {max(timings):.2f} s"
            )
            started = time.perf_counter()
            subprocess.run(
                [FARMHAND, "bundle", "submit", str(HELLO), "--yes", "--wait", "--max-poll-interval", "0.5"],
                env=env,
                check=True,
                capture_output=True,
            )
            cli_seconds = time.perf_counter() - started
            print(f"`farmhand bundle submit examples/hello --wait` wall time: {cli_seconds:.2f} s")
        finally:
            subprocess.run(
                [FARMHAND, "down", "--data-dir", str(data_dir)], env=env, check=False, capture_output=True
            )


def _status(env: dict[str, str], data_dir: Path) -> dict[str, Any]:
    import json

    result = subprocess.run(
        [FARMHAND, "status", "--json", "--data-dir", str(data_dir)], env=env, check=True, capture_output=True
    )
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _wait_for_workers(deadline: Any, state: dict[str, Any], count: int, timeout: float = 60) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        workers = deadline.list_workers(farmId=state["farm_id"], fleetId=state["fleet_id"])["workers"]
        if sum(1 for worker in workers if worker["status"] in ("STARTED", "IDLE", "RUNNING")) >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"{count} workers did not come up within {timeout:.0f} s")


def _hello_to_succeeded(deadline: Any, state: dict[str, Any], template: str) -> float:
    ids = {"farmId": state["farm_id"], "queueId": state["queue_id"]}
    started = time.perf_counter()
    job_id = deadline.create_job(**ids, template=template, templateType="YAML", priority=50)["jobId"]
    while True:
        status = deadline.get_job(**ids, jobId=job_id)["taskRunStatus"]
        if status == "SUCCEEDED":
            return time.perf_counter() - started
        if status in ("FAILED", "CANCELED", "NOT_COMPATIBLE"):
            raise SystemExit(f"hello job ended {status}")
        time.sleep(0.02)


if __name__ == "__main__":
    main()
