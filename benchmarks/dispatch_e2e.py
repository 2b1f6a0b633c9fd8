"""Wall time of N short tasks (`true`) through a farm with 2 workers, against running them locally.

The farm run: a real server (SQLite), two `farmhand worker` processes, one job with an N-task step,
timed from CreateJob to the job reading SUCCEEDED. The local run: the same template run with
`openjd run` in 2 processes (each taking half of the tasks), or — when the openjd CLI is not
installed — with openjd-sessions directly in 2 processes. Target: farm <= 1.2 x local.

    python benchmarks/dispatch_e2e.py            # 1,000 tasks
    python benchmarks/dispatch_e2e.py --quick    # 100 tasks
    python benchmarks/dispatch_e2e.py --openjd /path/to/openjd
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEP = "Work"


def template(tasks: int) -> dict[str, Any]:
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": f"{tasks} x true",
        "steps": [
            {
                "name": STEP,
                "parameterSpace": {
                    "taskParameterDefinitions": [{"name": "I", "type": "INT", "range": f"1-{tasks}"}]
                },
                "script": {"actions": {"onRun": {"command": "true"}}},
            }
        ],
    }


# --- the farm --------------------------------------------------------------------------------------


def run_on_farm(
    tasks: int, workers: int, work_dir: Path, database_url: str | None = None
) -> dict[str, float]:
    from farmhand.testing import ServerProcess, WorkerProcess

    with ServerProcess(work_dir / "server", database_url=database_url) as server:
        deadline = server.client("deadline")
        farm_id = deadline.create_farm(displayName="bench")["farmId"]
        queue_id = deadline.create_queue(
            farmId=farm_id, displayName="bench", jobRunAsUser={"runAs": "WORKER_AGENT_USER"}
        )["queueId"]
        fleet_id = deadline.create_fleet(
            farmId=farm_id,
            displayName="bench",
            roleArn="arn:aws:iam::123456789012:role/bench",
            maxWorkerCount=workers,
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
        agents = [
            WorkerProcess(server, farm_id, fleet_id, work_dir / f"worker-{i}").start() for i in range(workers)
        ]
        try:
            for agent in agents:
                agent.wait_registered()
            time.sleep(1.0)  # let every worker reach its first schedule poll
            started = time.monotonic()
            job_id = deadline.create_job(
                farmId=farm_id,
                queueId=queue_id,
                template=json.dumps(template(tasks)),
                templateType="JSON",
                priority=50,
            )["jobId"]
            first_run: float | None = None
            while True:
                job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
                counts = job["taskRunStatusCounts"]
                if first_run is None and (counts.get("SUCCEEDED", 0) or counts.get("RUNNING", 0)):
                    first_run = time.monotonic() - started
                if job["taskRunStatus"] in ("SUCCEEDED", "FAILED", "CANCELED", "NOT_COMPATIBLE"):
                    break
                # Fine-grained until the first task is seen, then light enough not to load the server.
                time.sleep(0.05 if first_run is None else 0.25)
            wall = time.monotonic() - started
            if job["taskRunStatus"] != "SUCCEEDED":
                raise SystemExit(f"farm job ended {job['taskRunStatus']}: {counts}")
            sessions = deadline.list_sessions(farmId=farm_id, queueId=queue_id, jobId=job_id, maxResults=100)
            return {
                "wall": wall,
                "first_task": first_run or wall,
                "sessions": float(len(sessions["sessions"])),
            }
        finally:
            for agent in agents:
                agent.stop()
            for agent in agents:
                calls = [line for line in agent.output().splitlines() if "schedule calls" in line]
                if calls:
                    print(f"  worker: {calls[-1].split(': ', 1)[-1]}")


# --- locally ---------------------------------------------------------------------------------------


def _openjd_cli_share(openjd: str, template_file: Path, values: list[int]) -> subprocess.Popen[bytes]:
    tasks = json.dumps([{"I": str(v)} for v in values])
    return subprocess.Popen(
        [openjd, "run", str(template_file), "--step", STEP, "--tasks", tasks],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_with_openjd_cli(openjd: str, tasks: int, processes: int, work_dir: Path) -> float:
    template_file = work_dir / "template.json"
    template_file.write_text(json.dumps(template(tasks)))
    shares = [list(range(1 + i, tasks + 1, processes)) for i in range(processes)]
    started = time.monotonic()
    running = [_openjd_cli_share(openjd, template_file, share) for share in shares]
    codes = [p.wait() for p in running]
    wall = time.monotonic() - started
    if any(codes):
        raise SystemExit(f"openjd run failed: exit codes {codes}")
    return wall


def _sessions_share(values: list[int]) -> None:
    """Run `values` as tasks of one openjd-sessions Session, one after another (as `openjd run` does)."""
    import threading

    from openjd.model import ParameterValue, ParameterValueType, parse_model
    from openjd.model.v2023_09 import StepTemplate
    from openjd.sessions import ActionState, Session

    step = parse_model(model=StepTemplate, obj=template(1)["steps"][0])
    done = threading.Event()
    failures: list[str] = []

    def callback(_: str, status: Any) -> None:
        if status.state != ActionState.RUNNING:
            if status.state != ActionState.SUCCESS:
                failures.append(str(status))
            done.set()

    with Session(session_id="bench", job_parameter_values={}, callback=callback) as session:
        for value in values:
            done.clear()
            session.run_task(
                step_script=step.script,
                task_parameter_values={"I": ParameterValue(type=ParameterValueType.INT, value=str(value))},
            )
            done.wait()
    if failures:
        raise SystemExit(f"local task failed: {failures[0]}")


def run_with_openjd_sessions(tasks: int, processes: int) -> float:
    shares = [list(range(1 + i, tasks + 1, processes)) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    started = time.monotonic()
    running = [context.Process(target=_sessions_share, args=(share,)) for share in shares]
    for process in running:
        process.start()
    for process in running:
        process.join()
    wall = time.monotonic() - started
    if any(p.exitcode for p in running):
        raise SystemExit("local openjd-sessions run failed")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 tasks")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--openjd", default=shutil.which("openjd"), help="the openjd CLI (default: on PATH)")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--database-url", help="run the farm on this PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    tasks = 100 if args.quick else args.tasks

    with tempfile.TemporaryDirectory(prefix="farmhand-bench-") as tmp:
        work_dir = Path(tmp)
        store = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{tasks} tasks of `true`, {args.workers} workers / processes, farm on {store}")
        farm = run_on_farm(tasks, args.workers, work_dir, args.database_url)
        print(
            f"farm:  {farm['wall']:.2f} s wall ({tasks / farm['wall']:.0f} tasks/s), "
            f"first task after {farm['first_task']:.2f} s, {farm['sessions']:.0f} sessions"
        )
        if args.skip_local:
            return
        if args.openjd:
            local = run_with_openjd_cli(args.openjd, tasks, args.workers, work_dir)
            how = "openjd run"
        else:
            local = run_with_openjd_sessions(tasks, args.workers)
            how = "openjd-sessions"
        print(
            f"local: {local:.2f} s wall ({tasks / local:.0f} tasks/s) with {how} in {args.workers} processes"
        )
        ratio = farm["wall"] / local
        print(f"ratio farm / local: {ratio:.2f} (target <= 1.20) {'OK' if ratio <= 1.2 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    sys.exit(main())
