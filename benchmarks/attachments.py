"""Job attachments: farmhand's client and worker beside the AWS client and worker agent, one farm.

Everything talks to one farm server on this machine (its own object store): a queue served by a
farmhand worker, another by the unmodified AWS worker agent, each with its own root prefix of one
bucket. Each submission runs in a fresh child process (its time is the `create_job_from_job_bundle`
call, its peak RSS the child's), with its own home directory for caches. Phases:

a. 10,000 x 10 KiB inputs: cold (empty caches and prefix), warm (same files again), one file changed.
b. one 2 GiB file: hashing beside a plain 1 MiB read loop; submit end to end (three pairs in
   alternating order, new content each time, the disk flushed before each); farmhand's upload
   killed at half and resumed (bytes sent again).
c. the input sync of (a)'s job on each worker (the syncInputJobAttachments action's duration); for
   farmhand a second session of the same inputs (bytes crossing the network: 0 wanted).
d. a task writing 10,000 small output files: the task run's duration on each worker (the output
   upload happens before the run is reported).

    python benchmarks/attachments.py            # the issue's sizes
    python benchmarks/attachments.py --quick    # 1,000 files, 256 MiB

Needs the AWS worker agent (FARMHAND_AWS_WORKER_AGENT, or deadline-worker-agent on PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

MiB = 1024 * 1024
BIG_ROUNDS = 3

COUNT_TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "count inputs",
    "parameterDefinitions": [{"name": "InDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "IN"}],
    "steps": [
        {
            "name": "Count",
            "script": {
                "actions": {
                    "onRun": {"command": "bash", "args": ["-c", "find '{{Param.InDir}}' -type f | wc -l"]}
                }
            },
        }
    ],
}
BIG_TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "big input",
    "parameterDefinitions": [{"name": "InFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"}],
    "steps": [
        {
            "name": "Size",
            "script": {"actions": {"onRun": {"command": "ls", "args": ["-l", "{{Param.InFile}}"]}}},
        }
    ],
}
OUTPUT_TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "many outputs",
    "parameterDefinitions": [
        {"name": "OutDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "OUT"},
        {"name": "Count", "type": "INT"},
    ],
    "steps": [
        {
            "name": "Write",
            "script": {
                "actions": {
                    "onRun": {
                        "command": "python3",
                        "args": [
                            "-c",
                            "import os,sys; d=sys.argv[1]; os.makedirs(d, exist_ok=True)\n"
                            "for i in range(int(sys.argv[2])):\n"
                            "    open(os.path.join(d, f'f{i:05d}.txt'), 'w').write(str(i) * 20)",
                            "{{Param.OutDir}}",
                            "{{Param.Count}}",
                        ],
                    }
                }
            },
        }
    ],
}

CHILD_SUBMIT = r"""
import json, os, resource, sys, time
tool, bundle, params, queue_id = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
suspended = sys.argv[5] == "1"
sent = {"UploadPart": 0}
if tool == "farmhand":
    from farmhand.client import api, config
    from farmhand.job_attachments import _storage
    original = _storage.ObjectStorage.__init__
    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        def count(request, **_):
            body = request.body
            sent["UploadPart"] += body.getbuffer().nbytes if hasattr(body, "getbuffer") else len(body or b"")
        self.s3.meta.events.register("before-send.s3.UploadPart", count)
    _storage.ObjectStorage.__init__ = init
else:
    from deadline.client import api, config
settings = config.config_file.read_config() if tool == "aws" else config.read_config()
setter = config.config_file.set_setting if tool == "aws" else config.set_setting
setter("defaults.queue_id", queue_id, settings)
def progress(report):
    print(f"PROGRESS {report.status} {report.progress}", flush=True)
    return True
repeat = int(sys.argv[6])
times = []
for _ in range(repeat):
    started = time.perf_counter()
    job_id = api.create_job_from_job_bundle(
        bundle, params, config=settings, interactive_confirmation_callback=lambda *a: True,
        hashing_progress_callback=progress, upload_progress_callback=progress,
        target_task_run_status="SUSPENDED" if suspended else None, print_function_callback=lambda *a: None,
    )
    times.append(time.perf_counter() - started)
seconds = times[0]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = {"seconds": seconds, "times": times, "job_id": job_id, "rss_mib": rss, "sent": sent["UploadPart"]}
print("RESULT " + json.dumps(result), flush=True)
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


class Bench:
    def __init__(self, work: Path, quick: bool) -> None:
        from _attachment_farm import build_attachment_farm

        from farmhand.testing import ServerProcess

        self.work = work
        self.quick = quick
        self.files = 1_000 if quick else 10_000
        self.big = (256 if quick else 2048) * MiB
        self.server = ServerProcess(work / "server").start()
        self.site = build_attachment_farm(self.server, work / "home")
        self.results: list[tuple[str, str, str]] = []

    def close(self) -> None:
        self.server.stop()

    def env(self, home: Path) -> dict[str, str]:
        env = dict(self.site.env)
        home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(home)
        return env

    def submit(
        self,
        tool: str,
        bundle: Path,
        params: dict[str, str],
        home: Path,
        *,
        suspended: bool = True,
        kill_at: float | None = None,
        repeat: int = 1,
    ) -> dict[str, Any]:
        kind = "farmhand" if tool == "farmhand" else "aws"
        python = sys.executable
        args = [
            python,
            "-c",
            CHILD_SUBMIT,
            tool,
            str(bundle),
            json.dumps([{"name": k, "value": v} for k, v in params.items()]),
            self.site.queues[kind],
            "1" if suspended else "0",
            str(repeat),
        ]
        process = subprocess.Popen(
            args, env=self.env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        result: dict[str, Any] = {}
        for line in process.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[7:])
            elif (
                kill_at is not None
                and line.startswith("PROGRESS UPLOAD_IN_PROGRESS")
                and float(line.split()[-1]) >= kill_at
            ):
                process.send_signal(signal.SIGKILL)
                process.wait()
                return {"killed": True}
        process.wait()
        if not result:
            raise RuntimeError(
                f"{tool} submission failed:\n{process.stderr.read() if process.stderr else ''}"
            )
        return result

    def stored_part_bytes(self) -> int:
        """Bytes of the parts the store holds for unfinished multipart uploads."""
        from _attachment_farm import BUCKET

        time.sleep(2)  # parts whose bodies arrived before the kill are still being stored
        s3 = self.server.client("s3")
        total = 0
        for upload in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
            pages = s3.get_paginator("list_parts").paginate(
                Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            total += sum(part["Size"] for page in pages for part in page.get("Parts", []))
        return total

    def record(self, phase: str, figure: str, note: str = "") -> None:
        self.results.append((phase, figure, note))
        print(f"{phase:58} {figure:32} {note}", flush=True)


def compare(ours: dict[str, Any], aws: dict[str, Any]) -> str:
    ratio = ours["seconds"] / aws["seconds"]
    return f"ratio {ratio:.3f}; client RSS {ours['rss_mib']:.0f} vs {aws['rss_mib']:.0f} MiB"


def make_inputs(directory: Path, count: int) -> None:
    directory.mkdir(parents=True)
    for index in range(count):
        sub = directory / f"d{index % 100:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{index:05d}.bin").write_bytes(os.urandom(10 * 1024))
    old = time.time() - 3600
    for path in directory.rglob("*.bin"):
        os.utime(path, (old, old))


def bundle_of(directory: Path, template: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "template.json").write_text(json.dumps(template))
    return directory


def phase_a(bench: Bench) -> dict[str, str]:
    jobs: dict[str, str] = {}
    inputs = bench.work / "inputs"
    make_inputs(inputs, bench.files)
    bundle = bundle_of(bench.work / "bundle-count", COUNT_TEMPLATE)
    params = {"InDir": str(inputs)}
    times: dict[tuple[str, str], dict[str, Any]] = {}
    for state in ("cold", "warm", "changed"):
        if state == "changed":
            changed = next(inputs.rglob("*.bin"))
            changed.write_bytes(os.urandom(10 * 1024))
        for tool in ("aws", "farmhand"):
            repeat = 2 if state == "warm" else 1  # the second warm one in a process that already submitted
            result = bench.submit(tool, bundle, params, bench.work / f"home-{tool}", repeat=repeat)
            times[(state, tool)] = result
            jobs.setdefault(f"{tool}-{state}", result["job_id"])
    for state in ("cold", "warm", "changed"):
        aws, ours = times[(state, "aws")], times[(state, "farmhand")]
        bench.record(
            f"a. submit {bench.files} x 10 KiB, {state} (new process)",
            f"{ours['seconds']:.2f} s vs {aws['seconds']:.2f} s",
            compare(ours, aws),
        )
        if state == "warm":
            again, aws_again = ours["times"][-1], aws["times"][-1]
            bench.record(
                f"a. submit {bench.files} x 10 KiB, warm (same process again)",
                f"{again:.2f} s vs {aws_again:.2f} s",
                f"ratio {again / aws_again:.3f}",
            )
    return jobs


def hash_throughput(path: Path) -> tuple[float, float]:
    from farmhand.job_attachments import hash_file

    with path.open("rb") as handle:  # warm the page cache
        while handle.read(8 * MiB):
            pass
    buffer = bytearray(MiB)
    started = time.perf_counter()
    with path.open("rb", buffering=0) as handle:
        while handle.readinto(buffer):
            pass
    plain = path.stat().st_size / (time.perf_counter() - started)
    started = time.perf_counter()
    hash_file(str(path))
    hashed = path.stat().st_size / (time.perf_counter() - started)
    return hashed, plain


def durable_write_seconds(source: Path, target: Path) -> float:
    """How long this disk takes to store a copy of `source` durably (written, fsynced): the floor
    under any upload of it into a store on the same disk, whichever client sends it."""
    os.sync()
    started = time.perf_counter()
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(64 * MiB):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def phase_b(bench: Bench) -> None:
    big = bench.work / "big" / "scene.bin"
    big.parent.mkdir()
    with big.open("wb") as handle:
        for _ in range(bench.big // (64 * MiB)):
            handle.write(os.urandom(64 * MiB))
    old = time.time() - 3600
    os.utime(big, (old, old))
    os.sync()  # its 2 GiB of write-back would otherwise take a CPU from the reads measured next
    hashed, plain = hash_throughput(big)
    bench.record(
        "b. hash the big file (page cache)",
        f"{hashed / MiB:.0f} vs {plain / MiB:.0f} MiB/s",
        f"ratio {hashed / plain:.2f} of a plain 1 MiB read loop",
    )
    bundle = bundle_of(bench.work / "bundle-big", BIG_TEMPLATE)
    params = {"InFile": str(big)}
    size = f"{bench.big // MiB} MiB"
    # Pairs in alternating order, each submission of new content (so each uploads it all), and the
    # disk flushed before each: neither tool inherits the other's write-back of 2 GiB.
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for round_number in range(BIG_ROUNDS):
        with big.open("r+b") as handle:
            handle.write(os.urandom(MiB))
        os.utime(big, (old + 10 + round_number, old + 10 + round_number))
        results: dict[str, dict[str, Any]] = {}
        for tool in ("aws", "farmhand") if round_number % 2 == 0 else ("farmhand", "aws"):
            os.sync()
            results[tool] = bench.submit(tool, bundle, params, bench.work / f"home-big-{tool}-{round_number}")
        pairs.append((results["farmhand"], results["aws"]))
    floor = durable_write_seconds(big, bench.server.data_dir / "disk-floor.bin")
    ratios = sorted(ours["seconds"] / aws["seconds"] for ours, aws in pairs)
    ours = sorted(pairs, key=lambda pair: pair[0]["seconds"])[len(pairs) // 2][0]
    aws = sorted(pairs, key=lambda pair: pair[1]["seconds"])[len(pairs) // 2][1]
    bench.record(
        f"b. submit one {size} file (median of {len(pairs)} pairs)",
        f"{ours['seconds']:.2f} s vs {aws['seconds']:.2f} s",
        f"ratio median {ratios[len(ratios) // 2]:.3f} (pairs {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"client RSS {ours['rss_mib']:.0f} vs {aws['rss_mib']:.0f} MiB; writing the file durably "
        f"where the store keeps it took {floor:.2f} s after the last pair",
    )
    # Killed at half, then resumed: a fresh file (new content), the same home (its upload state)
    with big.open("r+b") as handle:
        handle.write(os.urandom(MiB))
    os.utime(big, (old + 1, old + 1))
    os.sync()
    home = bench.work / "home-big-resume"
    bench.submit("farmhand", bundle, params, home, kill_at=50.0)
    stored = bench.stored_part_bytes()
    resumed = bench.submit("farmhand", bundle, params, home)
    # Sent again: what the resumed run sent beyond the parts the store did not have yet.
    again = max(0, resumed["sent"] - (bench.big - stored))
    bench.record(
        f"b. {size} upload killed at half, resumed",
        f"{again / MiB:.0f} MiB sent again",
        f"{100 * again / bench.big:.1f}% of the file; the store had {stored / MiB:.0f} MiB of parts, "
        f"the resumed run sent {resumed['sent'] / MiB:.0f} MiB in {resumed['seconds']:.2f} s",
    )


def resume_and_time(bench: Bench, kind: str, job_id: str, action: str) -> tuple[float, str]:
    """Let a suspended job run; the duration of its first action of this kind, and its session log."""
    site = bench.site
    deadline = site.farm.deadline
    queue = site.queues[kind]
    deadline.update_job(farmId=site.farm.farm_id, queueId=queue, jobId=job_id, targetTaskRunStatus="READY")
    job = site.wait(kind, job_id, timeout=1800)
    if job["taskRunStatus"] != "SUCCEEDED":
        raise RuntimeError(
            f"{kind} job {job_id}: {job['taskRunStatus']}\n{site.session_logs(kind, job_id)[-3000:]}"
        )
    [summary] = [a for a in site.actions(kind, job_id) if action in a["definition"]][:1]
    seconds = (summary["endedAt"] - summary["startedAt"]).total_seconds()
    return seconds, site.session_logs(kind, job_id)


def phase_c(bench: Bench, jobs: dict[str, str], agent_home: Path) -> None:
    from _aws_agent import running_aws_agent

    from farmhand.testing import WorkerProcess, server_environment

    cache = bench.work / "worker-cache"
    worker = WorkerProcess(
        bench.server,
        bench.site.farm.farm_id,
        bench.site.fleets["farmhand"],
        bench.work / "worker",
        extra_args=["--attachment-cache-dir", str(cache)],
    ).start()
    try:
        first, _ = resume_and_time(bench, "farmhand", jobs["farmhand-cold"], "syncInputJobAttachments")
        second, log = resume_and_time(bench, "farmhand", jobs["farmhand-warm"], "syncInputJobAttachments")
        moved = re.findall(r"Syncing job attachments: (\d+) files \((\d+) bytes\) downloaded", log)
        env = server_environment(bench.server, agent_home)
        env.update(
            AWS_ENDPOINT_URL_S3=bench.server.url, AWS_ENDPOINT_URL_STS=bench.server.url, HOME=str(agent_home)
        )
        agent_home.mkdir(parents=True, exist_ok=True)
        with running_aws_agent(bench.site.farm.farm_id, bench.site.fleets["aws"], agent_home, env):
            aws, _ = resume_and_time(bench, "aws", jobs["aws-cold"], "syncInputJobAttachments")
            phase_d(bench, worker)
    finally:
        worker.stop()
    bench.record(
        f"c. worker input sync of {bench.files} files, first session",
        f"{first:.2f} s vs {aws:.2f} s",
        f"ratio {first / aws:.3f} (farmhand worker on the farm's host)",
    )
    bench.record(
        "c. second session of the same inputs, same host",
        f"{second:.2f} s",
        f"bytes over the network: {moved[-1][1] if moved else '?'}",
    )
    # On the farm's own host, as `farmhand up` runs its workers: inputs read from the store's files,
    # into an empty cache (the third job: the same inputs with one file changed).
    local = WorkerProcess(
        bench.server,
        bench.site.farm.farm_id,
        bench.site.fleets["farmhand"],
        bench.work / "worker-on-farm-host",
        extra_args=[
            "--attachment-cache-dir",
            str(bench.work / "worker-on-farm-host-cache"),
            "--farm-objects-dir",
            str(bench.server.data_dir / "objects"),
        ],
    ).start()
    try:
        creating = file_create_microseconds(bench.work / "create-probe")
        on_host, _ = resume_and_time(bench, "farmhand", jobs["farmhand-changed"], "syncInputJobAttachments")
    finally:
        local.stop()
    bench.record(
        f"c. input sync of {bench.files} files on the farm's own host (store files), empty cache",
        f"{on_host:.2f} s",
        f"goal <= 1 s; creating an empty file here took {creating:.0f} us just before",
    )


def file_create_microseconds(directory: Path, count: int = 1000) -> float:
    """What creating one new file costs on this file system now, in microseconds.

    A sync of many small inputs is mostly file creation. On some virtual machines' file systems that
    cost swings tenfold from one minute to the next (15 to 800 us measured), so the figure is
    printed beside the sync's."""
    directory.mkdir(parents=True)
    started = time.perf_counter()
    for index in range(count):
        os.close(os.open(directory / f"f{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    return 1e6 * (time.perf_counter() - started) / count


def phase_d(bench: Bench, worker: Any) -> None:
    bundle = bundle_of(bench.work / "bundle-out", OUTPUT_TEMPLATE)
    times = {}
    for tool in ("farmhand", "aws"):
        params = {"OutDir": str(bench.work / f"outputs-{tool}"), "Count": str(bench.files)}
        job = bench.submit(tool, bundle, params, bench.work / f"home-out-{tool}")
        times[tool], _ = resume_and_time(
            bench, "farmhand" if tool == "farmhand" else "aws", job["job_id"], "taskRun"
        )
    bench.record(
        f"d. task writing {bench.files} outputs (run + upload)",
        f"{times['farmhand']:.2f} s vs {times['aws']:.2f} s",
        f"ratio {times['farmhand'] / times['aws']:.3f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip", default="", help="phases to skip, e.g. 'bd'")
    args = parser.parse_args()
    print(f"start: {load()}")
    with tempfile.TemporaryDirectory(prefix="farmhand-attachments-") as temporary:
        bench = Bench(Path(temporary), args.quick)
        try:
            print(f"{'phase':58} {'farmhand vs AWS':32} notes")
            jobs = phase_a(bench) if "a" not in args.skip else {}
            if "b" not in args.skip:
                phase_b(bench)
            if "c" not in args.skip and jobs:
                phase_c(bench, jobs, Path(temporary) / "agent")
        finally:
            bench.close()
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
