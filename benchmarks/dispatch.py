"""Dispatch figures: task assignments per second with N synthetic in-process workers.

Each synthetic worker loops on UpdateWorkerSchedule: it reports every action it was given as
SUCCEEDED (started and ended at once) and takes the next assignment, so a task costs one
assignment round trip. Two layers are measured:

- core: `update_worker_schedule` called in-process on the store (transaction, scheduler, SQL),
  N threads, no HTTP;
- http: a real server process and N threads with boto3 clients signed by fleet-role credentials
  (SigV4 verification, model parsing and serialisation included).

An assignment is a taskRun handed out; the figure is assignments / wall time until the job is done.
Beside it: the server process's CPU time per assignment (http; user + system, from psutil), and the
database statements per UpdateWorkerSchedule call (core; every statement the engine sends, the
transaction's BEGIN/COMMIT not counted), which is what a call costs in round trips to PostgreSQL.

    .venv/bin/python benchmarks/dispatch.py --quick              # SQLite, 500 tasks, 2 workers
    .venv/bin/python benchmarks/dispatch.py --postgres   # SQLite and PostgreSQL, 2000 tasks, 1/2/8 workers

Batches: with many READY tasks per worker, one answer hands out up to 16 tasks (see README,
"How work reaches workers"), so assignments/s is higher than calls/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import psutil  # noqa: E402
from sqlalchemy import event  # noqa: E402

from farmhand.testing import ServerProcess  # noqa: E402

CAPABILITIES = {
    "amounts": [{"name": "amount.worker.vcpu", "value": 4}, {"name": "amount.worker.memory", "value": 8192}],
    "attributes": [
        {"name": "attr.worker.os.family", "values": ["linux"]},
        {"name": "attr.worker.cpu.arch", "values": ["x86_64"]},
    ],
}


def template(tasks: int) -> str:
    return json.dumps(
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": f"dispatch {tasks}",
            "steps": [
                {
                    "name": "Work",
                    "parameterSpace": {
                        "taskParameterDefinitions": [{"name": "N", "type": "INT", "range": f"1-{tasks}"}]
                    },
                    "script": {"actions": {"onRun": {"command": "true"}}},
                }
            ],
        }
    )


def setup(server: ServerProcess, workers: int) -> tuple[Any, str, str, str, list[str]]:
    admin = server.client("deadline")
    farm_id = admin.create_farm(displayName="dispatch")["farmId"]
    queue_id = admin.create_queue(farmId=farm_id, displayName="q")["queueId"]
    fleet_id = admin.create_fleet(
        farmId=farm_id,
        displayName="f",
        roleArn="arn:aws:iam::123456789012:role/f",
        maxWorkerCount=1000,
        configuration={
            "customerManaged": {
                "mode": "NO_SCALING",
                "workerCapabilities": {
                    "vCpuCount": {"min": 1},
                    "memoryMiB": {"min": 1024},
                    "osFamily": "LINUX",
                    "cpuArchitectureType": "x86_64",
                },
            }
        },
    )["fleetId"]
    admin.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    ids = []
    for _ in range(workers):
        worker_id = admin.create_worker(farmId=farm_id, fleetId=fleet_id)["workerId"]
        admin.update_worker(
            farmId=farm_id, fleetId=fleet_id, workerId=worker_id, status="STARTED", capabilities=CAPABILITIES
        )
        ids.append(worker_id)
    return admin, farm_id, queue_id, fleet_id, ids


def submit(admin: Any, farm_id: str, queue_id: str, tasks: int) -> str:
    job_id = str(
        admin.create_job(
            farmId=farm_id, queueId=queue_id, template=template(tasks), templateType="JSON", priority=50
        )["jobId"]
    )
    while (
        admin.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)["lifecycleStatus"]
        == "CREATE_IN_PROGRESS"
    ):
        time.sleep(0.1)
    return job_id


def completed(answer: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Report every listed action SUCCEEDED; returns the updates and how many were taskRuns."""
    now = dt.datetime.now(dt.UTC)
    updates = {}
    runs = 0
    for session in answer["assignedSessions"].values():
        for action in session["sessionActions"]:
            updates[action["sessionActionId"]] = {
                "completedStatus": "SUCCEEDED",
                "startedAt": now,
                "endedAt": now,
                "processExitCode": 0,
            }
            runs += "taskRun" in action["definition"]
    return updates, runs


def run_workers(step: Any, workers: list[str], tasks: int, timeout: float) -> tuple[float, int]:
    """Run `step(worker_id, updates) -> answer` on one thread per worker until `tasks` assignments."""
    assigned = [0]
    lock = threading.Lock()
    done = threading.Event()

    def loop(worker_id: str) -> None:
        updates: dict[str, Any] = {}
        idle = 0
        while not done.is_set():
            answer = step(worker_id, updates)
            updates, runs = completed(answer)
            with lock:
                assigned[0] += runs
                if assigned[0] >= tasks:
                    done.set()
            idle = 0 if answer["assignedSessions"] else idle + 1
            if idle > 200:
                return

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    started = time.perf_counter()
    for t in threads:
        t.start()
    done.wait(timeout)
    elapsed = time.perf_counter() - started
    done.set()
    for t in threads:
        t.join()
    return elapsed, assigned[0]


def measure(database_url: str | None, label: str, tasks: int, workers: int) -> list[str]:
    from farmhand.server.store import Store, sqlite_url
    from farmhand.server.worker_plane import ScheduleSettings, update_worker_schedule

    lines = []
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp), database_url=database_url) as server:
        admin, farm_id, queue_id, fleet_id, ids = setup(server, workers)
        # http: the whole stack, boto3 clients with fleet-role credentials
        clients = {}
        import boto3

        for worker_id in ids:
            creds = admin.assume_fleet_role_for_worker(farmId=farm_id, fleetId=fleet_id, workerId=worker_id)[
                "credentials"
            ]
            session = boto3.Session(
                aws_access_key_id=creds["accessKeyId"],
                aws_secret_access_key=creds["secretAccessKey"],
                aws_session_token=creds["sessionToken"],
                region_name="us-west-2",
            )
            clients[worker_id] = server.client("deadline", session=session)

        def http_step(worker_id: str, updates: dict[str, Any]) -> dict[str, Any]:
            return dict(
                clients[worker_id].update_worker_schedule(
                    farmId=farm_id, fleetId=fleet_id, workerId=worker_id, updatedSessionActions=updates
                )
            )

        submit(admin, farm_id, queue_id, tasks)
        assert server.process is not None
        server_process = psutil.Process(server.process.pid)
        cpu_before = server_process.cpu_times()
        elapsed, n = run_workers(http_step, ids, tasks, timeout=600)
        cpu_after = server_process.cpu_times()
        cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
        lines.append(
            f"{label:10} http  {workers:3} workers {n:6} assignments {elapsed:7.2f} s {n / elapsed:8.0f}/s"
            f"  server CPU {1000 * cpu / max(n, 1):.2f} ms/assignment ({100 * cpu / elapsed:.0f}% of a core)"
        )
        job_id = submit(admin, farm_id, queue_id, tasks)
        # core: the same work in-process against the store, server idle
        store = Store(database_url or sqlite_url(Path(tmp)), migrate=False)
        settings = ScheduleSettings()
        statements = [0]
        calls = [0]

        @event.listens_for(store.engine, "before_cursor_execute")
        def count(*_args: Any) -> None:
            statements[0] += 1

        def core_step(worker_id: str, updates: dict[str, Any]) -> dict[str, Any]:
            for attempt in range(50):
                try:
                    with store.write() as conn:
                        calls[0] += 1
                        return update_worker_schedule(
                            conn,
                            farm_id=farm_id,
                            fleet_id=fleet_id,
                            worker_id=worker_id,
                            updates=updates,
                            now=dt.datetime.now(dt.UTC),
                            settings=settings,
                            by="bench",
                        ).output
                except Exception:
                    if attempt == 49:
                        raise
                    time.sleep(0.01)
            raise AssertionError

        elapsed, n = run_workers(core_step, ids, tasks, timeout=600)
        store.dispose()
        status = admin.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)["taskRunStatus"]
        lines.append(
            f"{label:10} core  {workers:3} workers {n:6} assignments {elapsed:7.2f} s {n / elapsed:8.0f}/s"
            f"  {statements[0] / max(calls[0], 1):.1f} statements/call,"
            f" {n / max(calls[0], 1):.1f} assignments/call"
            f"  (job {status})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 tasks, 2 workers, SQLite only")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (a throw-away cluster)")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,8", help="comma-separated worker counts")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}", flush=True)
    tasks, counts = (500, [2]) if args.quick else (args.tasks, [int(n) for n in args.workers.split(",")])
    for workers in counts:
        for line in measure(None, "sqlite", tasks, workers):
            print(line, flush=True)
    if args.postgres and not args.quick:
        from _postgres import PostgresCluster, find_postgres_bin

        bin_dir = find_postgres_bin()
        if bin_dir is None:
            print("postgres   skipped: PostgreSQL server binaries not found")
            return
        cluster = PostgresCluster(bin_dir).start()
        try:
            for workers in counts:
                for line in measure(cluster.new_database(), "postgres", tasks, workers):
                    print(line, flush=True)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
