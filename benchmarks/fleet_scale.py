"""Many workers on one farm: light synthetic workers that register and long-poll like real ones.

A synthetic worker is not a boto3 client: each is one keep-alive HTTP/1.1 connection driven by
asyncio, its requests built by botocore's own serializer from the Deadline model and signed with
SigV4 by botocore's signer, with the fleet-role credentials it took at registration (CreateWorker,
AssumeFleetRoleForWorker, UpdateWorker STARTED), exactly the calls of a real worker. An idle worker
long-polls UpdateWorkerSchedule (`x-farmhand-wait-seconds`); an assigned task "runs" for the task's
time (an asyncio sleep), then is reported SUCCEEDED with its start and end times.

Two figures:

- idle: N idle workers held by one server. At each N: the server's CPU while they only wait; the
  dispatch latency of jobs of one task submitted one at a time (from sending CreateJob to the moment
  a worker holds the task), p50/p99; then of a job of one task per worker (from CreateJob's answer
  to the moment a worker holds the task, every worker woken at once), p50/p99, and the server's CPU
  meanwhile.
- busy: W workers running tasks of --task-seconds on 1 and on 2 servers (PostgreSQL; with two, half
  of the workers use each): tasks/s, the p99 of READY -> RUNNING from the servers' own
  `farmhand_dispatch_latency_seconds` histogram (the bucket bound it falls in) and from the
  workers' side, and the servers' CPU.

    .venv/bin/python benchmarks/fleet_scale.py --idle 250,500,1000 --busy 500
    .venv/bin/python benchmarks/fleet_scale.py --idle 1000,2000,5000 --busy 2000 --task-seconds 1

The load generator shares the machine with the servers: its own CPU is printed too, and the
machine's load average, since on a small machine it bounds what the servers can be shown to do.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import botocore.session  # noqa: E402
import psutil  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest, prepare_request_dict  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.serialize import create_serializer  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from farmhand.testing import ServerProcess  # noqa: E402

REGION = "us-west-2"
WAIT_HEADER = "x-farmhand-wait-seconds"
LONG_POLL_SECONDS = 20
CAPABILITIES = {
    "amounts": [{"name": "amount.worker.vcpu", "value": 4}, {"name": "amount.worker.memory", "value": 8192}],
    "attributes": [
        {"name": "attr.worker.os.family", "values": ["linux"]},
        {"name": "attr.worker.cpu.arch", "values": ["x86_64"]},
    ],
}
MODEL = botocore.session.get_session().get_service_model("deadline")
SERIALIZER = create_serializer(MODEL.metadata["protocol"], include_validation=False)


class CallFailed(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = f"{status} {body[:120].decode(errors='replace')}"


class Connection:
    """One keep-alive HTTP/1.1 connection to a farm server, signing each call with SigV4."""

    def __init__(self, url: str, credentials: Credentials) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.credentials = credentials
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(
        self, operation: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        model = MODEL.operation_model(operation)
        request_dict = SERIALIZER.serialize_to_request(params, model)
        request_dict.pop("host_prefix", None)  # the farm's own endpoint, as `inject_host_prefix=False`
        prepare_request_dict(request_dict, self.url)
        request = AWSRequest(
            method=request_dict["method"],
            url=request_dict["url"],
            data=request_dict["body"],
            headers={**request_dict["headers"], **(headers or {})},
        )
        SigV4Auth(self.credentials, "deadline", REGION).add_auth(request)
        prepared = request.prepare()
        target = prepared.url.split(f"{self.port}", 1)[1] or "/"
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        lines = [f"{prepared.method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [
            f"{k}: {v.decode() if isinstance(v, bytes) else v}"
            for k, v in prepared.headers.items()
            if k.lower() not in ("host", "content-length")
        ]
        lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in range(2):
            try:
                return await self._exchange(raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, raw: bytes) -> dict[str, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        close = False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        body = await self.reader.readexactly(length)
        if close:
            await self.close()
        if status >= 300:
            raise CallFailed(status, body)
        answer: dict[str, Any] = json.loads(body) if body else {}
        return answer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class Farm:
    farm_id: str
    queue_id: str
    fleet_id: str
    admin: Credentials


@dataclass
class Stats:
    """What the workers saw: when each task was handed to a worker, and when each run started."""

    assigned_at: dict[str, float] = field(default_factory=dict)  # task id -> monotonic time
    started_at: dict[str, float] = field(default_factory=dict)
    finished: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # failed calls, by status or exception


class SyntheticWorker:
    def __init__(self, farm: Farm, url: str, stats: Stats, task_seconds: float) -> None:
        self.farm, self.url, self.stats, self.task_seconds = farm, url, stats, task_seconds
        self.worker_id = ""
        self.connection: Connection | None = None
        self.seen: set[str] = set()

    async def register(self) -> None:
        admin = Connection(self.url, self.farm.admin)
        ids = {"farmId": self.farm.farm_id, "fleetId": self.farm.fleet_id}
        try:
            self.worker_id = (await admin.call("CreateWorker", {**ids, "hostProperties": {"hostName": "s"}}))[
                "workerId"
            ]
            taken = await admin.call("AssumeFleetRoleForWorker", {**ids, "workerId": self.worker_id})
        finally:
            await admin.close()
        creds = taken["credentials"]
        self.connection = Connection(
            self.url, Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
        )
        await self.connection.call(
            "UpdateWorker",
            {**ids, "workerId": self.worker_id, "status": "STARTED", "capabilities": CAPABILITIES},
        )

    async def run(self, stop: asyncio.Event) -> None:
        assert self.connection is not None
        ids = {"farmId": self.farm.farm_id, "fleetId": self.farm.fleet_id, "workerId": self.worker_id}
        updates: dict[str, Any] = {}
        while not stop.is_set():
            try:
                answer = await self.connection.call(
                    "UpdateWorkerSchedule",
                    {**ids, "updatedSessionActions": updates},
                    {WAIT_HEADER: str(LONG_POLL_SECONDS)},
                )
            except (CallFailed, OSError, asyncio.IncompleteReadError) as error:
                kind = str(getattr(error, "status", type(error).__name__))
                self.stats.errors[re.sub(r"worker-[0-9a-f]+", "worker-…", kind)[:90]] += 1
                await asyncio.sleep(1)
                continue
            updates = {}
            now = time.monotonic()
            todo = []
            for session in answer.get("assignedSessions", {}).values():
                for action in session["sessionActions"]:
                    action_id = action["sessionActionId"]
                    if action_id in self.seen:
                        continue
                    self.seen.add(action_id)
                    run = action["definition"].get("taskRun")
                    if run is not None:
                        self.stats.assigned_at.setdefault(run["taskId"], now)
                    todo.append((action_id, run))
            for action_id, run in todo:
                started = dt.datetime.now(dt.UTC)
                if run is not None:
                    self.stats.started_at.setdefault(run["taskId"], time.monotonic())
                    if self.task_seconds:
                        await asyncio.sleep(self.task_seconds)
                    self.stats.finished += 1
                updates[action_id] = {
                    "completedStatus": "SUCCEEDED",
                    "startedAt": started,
                    "endedAt": dt.datetime.now(dt.UTC),
                    "processExitCode": 0,
                }


def setup_farm(server: ServerProcess, max_workers: int) -> Farm:
    admin = server.client("deadline")
    farm_id = admin.create_farm(displayName="fleet scale")["farmId"]
    queue_id = admin.create_queue(farmId=farm_id, displayName="q")["queueId"]
    fleet_id = admin.create_fleet(
        farmId=farm_id,
        displayName="f",
        roleArn="arn:aws:iam::123456789012:role/f",
        maxWorkerCount=max_workers,
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
    keys = server.boto3_session().get_credentials()
    return Farm(farm_id, queue_id, fleet_id, Credentials(keys.access_key, keys.secret_key, keys.token))


def create_job(admin: Any, farm: Farm, tasks: int) -> str:
    """CreateJob of `tasks` tasks through `admin` (a boto3 client); returns its id at once (creation
    may go on in the background)."""
    template = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": f"fleet scale {tasks}",
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
    ids = {"farmId": farm.farm_id, "queueId": farm.queue_id}
    created = admin.create_job(**ids, template=json.dumps(template), templateType="JSON", priority=50)
    return str(created["jobId"])


def submit(admin: Any, farm: Farm, tasks: int) -> tuple[float, float]:
    """Create a job of `tasks` tasks; returns the monotonic times CreateJob was sent and the job
    was created (its tasks all READY)."""
    sent = time.monotonic()
    job_id = create_job(admin, farm, tasks)
    while (
        admin.get_job(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id)["lifecycleStatus"]
        == "CREATE_IN_PROGRESS"
    ):
        time.sleep(0.01)
    return sent, time.monotonic()


async def trickle(server: ServerProcess, farm: Farm, stats: Stats, jobs: int) -> list[float]:
    """Jobs of one task, one at a time while the workers idle: from sending each CreateJob to a worker
    holding its task (what a wrangler submitting to an idle farm waits), one latency per job."""
    latencies = []
    admin = server.client("deadline")  # made once: a new client loads its models (~0.1 s)

    def send() -> float:
        sent = time.monotonic()
        create_job(admin, farm, 1)
        return sent

    for _ in range(jobs):
        before = set(stats.assigned_at)
        sent = await asyncio.to_thread(send)
        while not set(stats.assigned_at) - before and time.monotonic() - sent < 30:
            await asyncio.sleep(0.005)
        new = set(stats.assigned_at) - before
        latencies.append(min(stats.assigned_at[t] for t in new) - sent if new else float("inf"))
        await asyncio.sleep(0.2)
    return latencies


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


TRICKLE_JOBS = 40


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def histogram_p99(urls: list[str]) -> tuple[float, int]:
    """The bucket bound the p99 of READY -> RUNNING falls in, summed over the servers' /metrics."""
    buckets: dict[float, float] = {}
    for url in urls:
        with urlopen(f"{url}/metrics", timeout=60) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name != "farmhand_dispatch_latency_seconds":
                continue
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
    total = buckets.get(float("inf"), 0.0)
    for bound in sorted(buckets):
        if buckets[bound] >= 0.99 * total:
            return bound, int(total)
    return float("nan"), int(total)


async def start_workers(
    farm: Farm, urls: list[str], count: int, stats: Stats, task_seconds: float
) -> list[SyntheticWorker]:
    workers = [SyntheticWorker(farm, urls[i % len(urls)], stats, task_seconds) for i in range(count)]
    limit = asyncio.Semaphore(32)

    async def register(worker: SyntheticWorker) -> None:
        async with limit:
            await worker.register()

    await asyncio.gather(*(register(w) for w in workers))
    return workers


async def idle_levels(server: ServerProcess, levels: list[int]) -> None:
    farm = setup_farm(server, max(levels))
    assert server.process is not None
    server_process = [psutil.Process(server.process.pid)]
    stats = Stats()
    stop = asyncio.Event()
    workers: list[SyntheticWorker] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for level in levels:
            started = time.monotonic()
            added = await start_workers(farm, [server.url], level - len(workers), stats, 0)
            workers += added
            tasks += [asyncio.create_task(w.run(stop)) for w in added]
            registered = time.monotonic() - started
            await asyncio.sleep(5)  # every worker's first poll answered, now waiting
            cpu0, wall0 = cpu_seconds(server_process), time.monotonic()
            await asyncio.sleep(10)
            idle_cpu = (cpu_seconds(server_process) - cpu0) / (time.monotonic() - wall0)
            cpu0, wall0 = cpu_seconds(server_process), time.monotonic()
            singles = await trickle(server, farm, stats, TRICKLE_JOBS)
            trickle_cpu = (cpu_seconds(server_process) - cpu0) / (time.monotonic() - wall0)
            print(
                f"idle  {level:5} workers: {TRICKLE_JOBS} jobs of one task, one at a time:"
                f" CreateJob sent -> a worker holds the task p50 {percentile(singles, 0.5):5.3f} s"
                f" p99 {percentile(singles, 0.99):5.3f} s max {max(singles):5.3f} s,"
                f" server CPU {100 * trickle_cpu:4.0f}%  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            await asyncio.sleep(2)  # the single tasks' reports
            stats.assigned_at.clear()
            admin = server.client("deadline")
            cpu0, own0, wall0 = cpu_seconds(server_process), own_cpu(), time.monotonic()
            sent, ready = await asyncio.to_thread(submit, admin, farm, level)
            while len(stats.assigned_at) < level and time.monotonic() - ready < 120:
                await asyncio.sleep(0.05)
            took = time.monotonic() - wall0
            busy_cpu = (cpu_seconds(server_process) - cpu0) / took
            # From sending CreateJob: its tasks may be handed out before GetJob says it is created.
            latencies = [t - sent for t in stats.assigned_at.values()]
            print(
                f"idle  {level:5} workers (+{len(added)} registered in {registered:5.1f} s)"
                f"  waiting: server CPU {100 * idle_cpu:4.0f}%"
                f"  | job of {level} tasks: created in {ready - sent:.2f} s, {len(latencies)} handed out,"
                f" dispatch p50 {percentile(latencies, 0.5):5.2f} s p99 {percentile(latencies, 0.99):5.2f} s,"
                f" server CPU {100 * busy_cpu:4.0f}%, load generator CPU"
                f" {100 * (own_cpu() - own0) / took:4.0f}%  errors {dict(stats.errors)}"
                f"  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            await asyncio.sleep(3)  # the job's last reports
    finally:
        stop.set()
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def busy_run(servers: list[ServerProcess], count: int, task_seconds: float, rounds: int) -> None:
    farm = setup_farm(servers[0], count)
    urls = [s.url for s in servers]
    processes = [psutil.Process(s.process.pid) for s in servers if s.process is not None]
    stats = Stats()
    stop = asyncio.Event()
    workers = await start_workers(farm, urls, count, stats, task_seconds)
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await asyncio.sleep(5)
        total = count * rounds
        cpu0, own0 = cpu_seconds(processes), own_cpu()
        _sent, ready = await asyncio.to_thread(submit, servers[0].client("deadline"), farm, total)
        while stats.finished < total and time.monotonic() - ready < 60 + 10 * rounds * task_seconds * 3:
            await asyncio.sleep(0.1)
        took = time.monotonic() - ready
        cpu = cpu_seconds(processes) - cpu0
        waits = [
            stats.started_at[t] - stats.assigned_at[t] for t in stats.started_at if t in stats.assigned_at
        ]
        first = sorted(stats.assigned_at.values())[:count]
        bound, observed = histogram_p99(urls)
        print(
            f"busy  {count:5} workers on {len(servers)} server(s), {total} tasks of {task_seconds:g} s:"
            f" {stats.finished} done in {took:6.1f} s = {stats.finished / took:7.1f} tasks/s"
            f" (ideal {count / task_seconds:.0f}/s)"
            f"  READY->RUNNING p99 <= {bound:g} s (server histogram, {observed} runs);"
            f" first {len(first)} handed out within {(first[-1] - ready) if first else float('nan'):.2f} s;"
            f" queued in a worker's batch p99 {percentile(waits, 0.99):.2f} s"
            f"  server CPU {100 * cpu / took:4.0f}% ({1000 * cpu / max(stats.finished, 1):.2f} ms/task)"
            f"  load generator CPU {100 * (own_cpu() - own0) / took:4.0f}%  errors {dict(stats.errors)}"
            f"  load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(w.connection.close() for w in workers if w.connection), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", default="250,500,1000", help="idle worker counts (one server, SQLite)")
    parser.add_argument("--idle-postgres", action="store_true", help="the idle figure on PostgreSQL instead")
    parser.add_argument("--busy", type=int, default=500, help="workers running tasks (0: skip)")
    parser.add_argument("--task-seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="tasks per worker in the busy run")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores",
        flush=True,
    )
    levels = [int(n) for n in args.idle.split(",") if n]
    from _postgres import PostgresCluster, find_postgres_bin

    bin_dir = find_postgres_bin()
    cluster = (
        PostgresCluster(bin_dir).start()
        if bin_dir is not None and (args.busy or args.idle_postgres)
        else None
    )
    args_server = ["--worker-timeout-seconds", "120"]
    try:
        if levels:
            url = cluster.new_database() if (cluster and args.idle_postgres) else None
            with (
                tempfile.TemporaryDirectory() as tmp,
                ServerProcess(Path(tmp), database_url=url, extra_args=args_server) as server,
            ):
                print(f"idle workers on one server ({'PostgreSQL' if url else 'SQLite'})", flush=True)
                asyncio.run(idle_levels(server, levels))
        if args.busy:
            if cluster is None:
                print("busy: skipped, PostgreSQL server binaries not found")
                return
            for nodes in (1, 2):
                url = cluster.new_database()
                env = {"FARMHAND_SECRET_KEY": "fleet-scale-benchmark-farm-secret-0123456789"}
                with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
                    servers = [
                        stack.enter_context(
                            ServerProcess(
                                Path(tmp) / f"node-{i}", database_url=url, extra_args=args_server, env=env
                            )
                        )
                        for i in range(nodes)
                    ]
                    asyncio.run(busy_run(servers, args.busy, args.task_seconds, args.rounds))
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
