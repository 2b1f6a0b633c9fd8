"""CreateJob figures: time and peak memory to create jobs of N tasks, server-side and end to end.

Server-side: template instantiation and every row written, in-process, straight to the store (the
code path the CreateJob handler runs, without HTTP), in a fresh child process per size so the peak
RSS is that job's alone. End to end: a real server process and a boto3 client; "accepted" is the
CreateJob call, "complete" is when GetJob first reports CREATE_COMPLETE (tasks of large jobs are
written after the answer); the server's peak RSS is sampled during the run.

    .venv/bin/python benchmarks/create_job.py --quick            # 1k and 10k tasks, SQLite
    .venv/bin/python benchmarks/create_job.py --postgres         # 1k..1M on SQLite and PostgreSQL
    .venv/bin/python benchmarks/create_job.py --crash-resume --postgres   # kill -9 mid-creation

Crash-resume: a job of N tasks (default 100k) is submitted, the server is killed with SIGKILL while
its tasks are being written, and a new server starts on the same store; the figures are the time
from starting the new server until it serves, and until GetJob reports CREATE_COMPLETE, beside the
time the same job takes to create without a crash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
CRASH_RESUME_SIZES = (100_000,)
POLL_SECONDS = 0.25  # how often the client asks GetJob (the deadline CLI starts at 0.3 s)


def template(tasks: int) -> str:
    return json.dumps(
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": f"bench {tasks}",
            "steps": [
                {
                    "name": "Render",
                    "parameterSpace": {
                        "taskParameterDefinitions": [{"name": "Frame", "type": "INT", "range": f"1-{tasks}"}]
                    },
                    "script": {"actions": {"onRun": {"command": "echo", "args": ["{{Task.Param.Frame}}"]}}},
                }
            ],
        }
    )


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_side_once(tasks: int, database_url: str | None) -> dict[str, float]:
    """One measurement in this (fresh) process."""
    from farmhand.server._ids import new_id
    from farmhand.server.jobs import insert_job_rows, plan_job, write_tasks_inline, write_tasks_later
    from farmhand.server.jobs._writer import INLINE_TASK_LIMIT
    from farmhand.server.store import Store, sqlite_url

    workdir = Path(tempfile.mkdtemp(prefix="farmhand-bench-"))
    store = Store(database_url or sqlite_url(workdir))
    baseline = _rss_mib()
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    job_id = new_id("job")
    plan, _ = plan_job(
        job_id=job_id,
        template_text=template(tasks),
        template_type="JSON",
        parameters={},
        queue_environments=[],
        new_step_id=lambda: new_id("step"),
    )
    fields = {"priority": 50, "template": template(tasks), "template_type": "JSON"}
    ids = {"job_id": job_id, "farm_id": "farm-bench", "queue_id": "queue-bench"}
    with store.write() as conn:
        insert_job_rows(conn, plan, now=now, by="bench", fields=fields, **ids)
        if plan.task_count <= INLINE_TASK_LIMIT:
            write_tasks_inline(conn, plan, now=now, **ids)
    if plan.task_count > INLINE_TASK_LIMIT:
        write_tasks_later(store.write, plan, now=now, **ids)
    elapsed = time.perf_counter() - started
    store.dispose()
    return {"seconds": elapsed, "peak_rss_mib": _rss_mib(), "rss_growth_mib": _rss_mib() - baseline}


def server_side(tasks: int, database_url: str | None) -> dict[str, float]:
    args = [sys.executable, __file__, "--one-server-side", str(tasks)]
    if database_url:
        args += ["--database-url", database_url]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def end_to_end(sizes: tuple[int, ...], database_url: str | None) -> list[dict[str, float]]:
    import psutil

    from farmhand.testing import ServerProcess

    results = []
    with ServerProcess(
        Path(tempfile.mkdtemp(prefix="farmhand-bench-e2e-")), database_url=database_url
    ) as server:
        deadline = server.client("deadline")
        farm_id = deadline.create_farm(displayName="bench")["farmId"]
        queue_id = deadline.create_queue(farmId=farm_id, displayName="bench")["queueId"]
        process = psutil.Process(server.process.pid)
        for tasks in sizes:
            text = template(tasks)
            baseline = process.memory_info().rss
            peak = [baseline]
            stop = threading.Event()

            def sample(peak: list[int] = peak, stop: threading.Event = stop) -> None:
                while not stop.wait(0.02):
                    peak[0] = max(peak[0], process.memory_info().rss)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            job_id = deadline.create_job(
                farmId=farm_id, queueId=queue_id, template=text, templateType="JSON", priority=50
            )["jobId"]
            accepted = time.perf_counter() - started
            while True:
                job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
                if job["lifecycleStatus"] != "CREATE_IN_PROGRESS":
                    break
                time.sleep(POLL_SECONDS)
            complete = time.perf_counter() - started
            stop.set()
            sampler.join()
            assert job["lifecycleStatus"] == "CREATE_COMPLETE", job["lifecycleStatusMessage"]
            assert sum(job["taskRunStatusCounts"].values()) == tasks
            results.append(
                {
                    "tasks": tasks,
                    "accepted_s": accepted,
                    "complete_s": complete,
                    "server_peak_rss_mib": peak[0] / 2**20,
                    "server_rss_growth_mib": (peak[0] - baseline) / 2**20,
                }
            )
    return results


def crash_resume(tasks: int, database_url: str | None) -> dict[str, float]:
    """Kill -9 the server while it writes a job of `tasks` tasks; time the restart to CREATE_COMPLETE."""
    from farmhand.testing import ServerProcess

    data_dir = Path(tempfile.mkdtemp(prefix="farmhand-bench-resume-"))
    server = ServerProcess(data_dir, database_url=database_url).start()
    try:
        deadline = server.client("deadline")
        farm_id = deadline.create_farm(displayName="bench")["farmId"]
        queue_id = deadline.create_queue(farmId=farm_id, displayName="bench")["queueId"]
        for _ in range(5):
            job_id = deadline.create_job(
                farmId=farm_id, queueId=queue_id, template=template(tasks), templateType="JSON", priority=50
            )["jobId"]
            job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
            if job["lifecycleStatus"] == "CREATE_IN_PROGRESS":
                server.kill()
                break
        else:
            raise RuntimeError(f"a job of {tasks} tasks was always created before the kill")
    finally:
        server.stop()
    written = sum(job["taskRunStatusCounts"].values())
    started = time.perf_counter()
    with ServerProcess(data_dir, database_url=database_url) as restarted:
        serving = time.perf_counter() - started
        deadline = restarted.client("deadline")
        while True:
            job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
            if job["lifecycleStatus"] != "CREATE_IN_PROGRESS":
                break
            time.sleep(0.05)
        complete = time.perf_counter() - started
        assert job["lifecycleStatus"] == "CREATE_COMPLETE", job["lifecycleStatusMessage"]
        assert sum(job["taskRunStatusCounts"].values()) == tasks
    return {"tasks": tasks, "written_before_kill": written, "serving_s": serving, "complete_s": complete}


def crash_resume_report(sizes: tuple[int, ...], stores: list[tuple[str, Any]]) -> None:
    print(
        f"{'store':<11} {'tasks':>9} {'written at kill':>16} {'restart→serving s':>18} "
        f"{'restart→CREATE_COMPLETE s':>26} {'same job, no crash s':>21}"
    )
    for store_name, pg in stores:
        for n in sizes:
            resumed = crash_resume(n, pg.new_database() if pg else None)
            [plain] = end_to_end((n,), pg.new_database() if pg else None)
            print(
                f"{store_name:<11} {n:>9,} {int(resumed['written_before_kill']):>16,} "
                f"{resumed['serving_s']:>18.2f} {resumed['complete_s']:>26.2f} {plain['complete_s']:>21.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k tasks only")
    parser.add_argument("--sizes", help="comma-separated task counts (default 1k,10k,100k,1M)")
    parser.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL cluster")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per figure; the fastest is shown (shared machines)"
    )
    parser.add_argument(
        "--crash-resume",
        action="store_true",
        help="kill -9 the server mid-creation and time the restart to CREATE_COMPLETE (default 100k tasks)",
    )
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--one-server-side", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_server_side:
        print(json.dumps(server_side_once(args.one_server_side, args.database_url)))
        return
    sizes = (
        tuple(int(s) for s in args.sizes.split(","))
        if args.sizes
        else CRASH_RESUME_SIZES
        if args.crash_resume
        else QUICK_SIZES
        if args.quick
        else FULL_SIZES
    )
    stores: list[tuple[str, Any]] = [("sqlite", None)]
    cluster = None
    if args.postgres:
        from _postgres import PostgresCluster, find_postgres_bin

        bin_dir = find_postgres_bin()
        if bin_dir is None:
            print("PostgreSQL binaries not found: PostgreSQL skipped")
        else:
            cluster = PostgresCluster(bin_dir).start()
            stores.append(("postgresql", cluster))
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} CPUs, load average {load} at start (figures are wall-clock)")
        if args.crash_resume:
            crash_resume_report(sizes, stores)
            return
        print(
            f"{'store':<11} {'tasks':>9} {'server-side s':>14} {'peak RSS MiB':>13} | "
            f"{'e2e accepted s':>15} {'e2e complete s':>15} {'server peak RSS MiB':>20}"
        )
        for store_name, pg in stores:
            side: dict[int, dict[str, float]] = {}
            e2e: dict[int, dict[str, float]] = {}
            for _ in range(max(1, args.repeat)):
                for n in sizes:
                    run = server_side(n, pg.new_database() if pg else None)
                    if n not in side or run["seconds"] < side[n]["seconds"]:
                        side[n] = run
                for run in end_to_end(sizes, pg.new_database() if pg else None):
                    n = int(run["tasks"])
                    if n not in e2e or run["complete_s"] < e2e[n]["complete_s"]:
                        e2e[n] = run
            for n in sizes:
                s, e = side[n], e2e[n]
                print(
                    f"{store_name:<11} {n:>9,} {s['seconds']:>14.3f} {s['peak_rss_mib']:>13.0f} | "
                    f"{e['accepted_s']:>15.3f} {e['complete_s']:>15.3f} {e['server_peak_rss_mib']:>20.0f}",
                    flush=True,
                )
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
