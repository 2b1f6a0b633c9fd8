"""The farm's S3 endpoint beside SeaweedFS, in one run, with boto3's S3 client on loopback.

Both stores run on this machine; each phase runs against one, then the other, with the same client
code and configuration, so load from other processes weighs on both alike. Phases:

* 10,000 x 10 KiB PutObject from 16 threads (objects/s), with the store's peak RSS during the run;
* HeadObject of those keys from 16 threads (per s);
* a 1 GiB file uploaded by boto3's transfer manager (multipart, 8 MiB parts, 10 threads) and read
  back with its ranged GETs (MiB/s), in two rounds of opposite order, beside a plain copy of the
  same file (the ceiling), with the CPU each side spent per MiB.

Goals: small PUT and HEAD at least SeaweedFS's; bulk at least 0.8x SeaweedFS and 0.5x the copy;
the farm server's RSS at most 250 MiB during the 10k run.

    python benchmarks/object_store.py            # 10,000 objects, 1 GiB
    python benchmarks/object_store.py --quick    # 1,000 objects, 256 MiB
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _seaweedfs import SeaweedFS
from farmhand.testing import ServerProcess

MiB = 1024 * 1024
THREADS = 16
BATCH = 1000


class ServerUsage:
    """A store's process tree during a phase: peak resident memory (sampled every 50 ms) and the
    CPU seconds it used (what each request costs the machine, whoever the bottleneck is)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _cpu(self) -> float:
        total = 0.0
        for process in [self.process, *self.process.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            self._stop.wait(0.05)

    def __enter__(self) -> ServerUsage:
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = self._cpu() - self._cpu_start


def timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def in_threads(items: list[Any], call: Callable[[Any], None]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        for _ in pool.map(call, items):
            pass


class Phase:
    """One phase against one store, run in batches: total seconds, server CPU and peak RSS."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.peak = 0
        self.count = 0

    def run(self, pid: int, items: list[Any], call: Callable[[Any], None]) -> None:
        with ServerUsage(pid) as usage:
            self.seconds += timed(lambda: in_threads(items, call))
        self.cpu_seconds += usage.cpu_seconds
        self.peak = max(self.peak, usage.peak)
        self.count += len(items)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.count * 1e6


def alternate(
    stores: dict[str, tuple[Any, int]], keys: list[str], call: Callable[[Any, str], None]
) -> dict[str, Phase]:
    """Run `call(client, key)` over the keys in batches of 1,000, alternating the stores batch by
    batch, so that load from other processes on this machine weighs on both alike."""
    phases = {name: Phase() for name in stores}
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        for name, (s3, pid) in stores.items():
            phases[name].run(pid, batch, lambda key, s3=s3: call(s3, key))
    return phases


@dataclass
class Transfer:
    """One bulk transfer: MiB/s, and the CPU milliseconds per MiB the store and this client used
    (what bounds the rate once the machine is shared; a ratio that survives load)."""

    rate: float
    server_ms: float
    client_ms: float


def measured(pid: int, size_mib: float, work: Callable[[], None]) -> Transfer:
    client = psutil.Process()
    before = client.cpu_times()
    with ServerUsage(pid) as usage:
        seconds = timed(work)
    after = client.cpu_times()
    client_seconds = after.user - before.user + after.system - before.system
    return Transfer(size_mib / seconds, usage.cpu_seconds / size_mib * 1e3, client_seconds / size_mib * 1e3)


def bulk(s3: Any, pid: int, bucket: str, source: Path, work: Path) -> tuple[Transfer, Transfer]:
    size_mib = source.stat().st_size / MiB
    config = TransferConfig()  # what the job-attachments code uses: 8 MiB parts, 10 threads
    key = "Root/Data/bulk.xxh128"
    up = measured(pid, size_mib, lambda: s3.upload_file(str(source), bucket, key, Config=config))
    target = work / "downloaded"
    down = measured(pid, size_mib, lambda: s3.download_file(bucket, key, str(target), Config=config))
    assert target.stat().st_size == source.stat().st_size
    target.unlink()
    return up, down


def plain_copy(source: Path, work: Path) -> float:
    target = work / "copy"

    def copy() -> None:
        shutil.copyfile(source, target)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())

    seconds = timed(copy)
    target.unlink()
    return source.stat().st_size / MiB / seconds


def _pid(process: Any) -> int:
    assert process.process is not None
    return int(process.process.pid)


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 objects and 256 MiB")
    parser.add_argument("--objects", type=int, default=None)
    parser.add_argument("--bulk-mib", type=int, default=None)
    args = parser.parse_args()
    count = args.objects or (1000 if args.quick else 10_000)
    bulk_mib = args.bulk_mib or (256 if args.quick else 1024)

    with tempfile.TemporaryDirectory(prefix="farmhand-s3-bench-") as tmp:
        root = Path(tmp)
        source = root / "source.bin"
        with open(source, "wb") as handle:
            block = os.urandom(MiB)
            for _ in range(bulk_mib):
                handle.write(block)
        print(f"load before: {load()}")
        results: dict[str, dict[str, float]] = {}
        with ServerProcess(root / "farm") as farm, SeaweedFS(root / "seaweedfs") as seaweed:
            config = Config(max_pool_connections=32, retries={"max_attempts": 1})
            clients = {
                "farm": (farm.boto3_session().client("s3", endpoint_url=farm.url, config=config), farm),
                "seaweedfs": (
                    seaweed.session().client("s3", endpoint_url=seaweed.url, config=config),
                    seaweed,
                ),
            }
            for name, (s3, _) in clients.items():
                s3.create_bucket(Bucket="bench")
                results[name] = {}
            stores = {name: (s3, _pid(proc)) for name, (s3, proc) in clients.items()}
            keys = [f"Root/Data/{i:08x}.xxh128" for i in range(count)]
            body = os.urandom(10 * 1024)
            puts = alternate(stores, keys, lambda s3, key: s3.put_object(Bucket="bench", Key=key, Body=body))
            heads = alternate(stores, keys, lambda s3, key: s3.head_object(Bucket="bench", Key=key))
            for name in clients:
                put, head = puts[name], heads[name]
                results[name].update(
                    put=put.rate, put_cpu=put.cpu_us, rss=put.peak / MiB, head=head.rate, head_cpu=head.cpu_us
                )
                print(
                    f"{name}: {count} x 10 KiB PUT {put.rate:.0f}/s ({put.cpu_us:.0f} us server CPU each, "
                    f"peak RSS {put.peak / MiB:.0f} MiB); HEAD {head.rate:.0f}/s ({head.cpu_us:.0f} us)",
                    flush=True,
                )
            # Two rounds in opposite orders (farm, SeaweedFS, SeaweedFS, farm), each store's rates
            # averaged, with a plain copy in each round.
            rounds: dict[str, list[tuple[Transfer, Transfer]]] = {name: [] for name in clients}
            copies: list[float] = []
            for order in (list(clients), list(reversed(clients))):
                for name in order:
                    up, down = bulk(clients[name][0], stores[name][1], "bench", source, root)
                    rounds[name].append((up, down))
                    print(
                        f"{name}: {bulk_mib} MiB upload {up.rate:.0f} MiB/s (CPU ms/MiB: store "
                        f"{up.server_ms:.2f}, client {up.client_ms:.2f}), ranged GET {down.rate:.0f} MiB/s "
                        f"(store {down.server_ms:.2f}, client {down.client_ms:.2f})",
                        flush=True,
                    )
                copies.append(plain_copy(source, root))
            for name, transfers in rounds.items():
                n = len(transfers)
                results[name].update(
                    up=sum(u.rate for u, _ in transfers) / n,
                    down=sum(d.rate for _, d in transfers) / n,
                    up_cpu=sum(u.server_ms for u, _ in transfers) / n,
                    down_cpu=sum(d.server_ms for _, d in transfers) / n,
                    up_client=sum(u.client_ms for u, _ in transfers) / n,
                    down_client=sum(d.client_ms for _, d in transfers) / n,
                )
            copy = sum(copies) / len(copies)
        print(f"load after: {load()}")

    farm, weed = results["farm"], results["seaweedfs"]
    print()
    print("| measure | farm | SeaweedFS | farm / SeaweedFS | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| {count} x 10 KiB PutObject, 16 threads (objects/s) | {farm['put']:.0f} | {weed['put']:.0f} | "
        f"{farm['put'] / weed['put']:.2f} | >= 1 |"
    )
    print(
        f"| HeadObject, 16 threads (per s) | {farm['head']:.0f} | {weed['head']:.0f} | "
        f"{farm['head'] / weed['head']:.2f} | >= 1 |"
    )
    print(
        f"| {bulk_mib} MiB multipart upload (MiB/s) | {farm['up']:.0f} | {weed['up']:.0f} | "
        f"{farm['up'] / weed['up']:.2f} | >= 0.8 |"
    )
    print(
        f"| {bulk_mib} MiB ranged GET (MiB/s) | {farm['down']:.0f} | {weed['down']:.0f} | "
        f"{farm['down'] / weed['down']:.2f} | >= 0.8 |"
    )
    print(
        f"| store CPU per MiB uploaded, read (ms) | {farm['up_cpu']:.2f}, {farm['down_cpu']:.2f} | "
        f"{weed['up_cpu']:.2f}, {weed['down_cpu']:.2f} | | |"
    )
    print(
        f"| boto3 CPU per MiB uploaded, read (ms) | {farm['up_client']:.2f}, {farm['down_client']:.2f} | "
        f"{weed['up_client']:.2f}, {weed['down_client']:.2f} | | |"
    )
    print(f"| plain copy of the file (MiB/s) | {copy:.0f} | | | ceiling |")
    print(
        f"| upload / copy, ranged GET / copy | {farm['up'] / copy:.2f}, {farm['down'] / copy:.2f} | "
        f"{weed['up'] / copy:.2f}, {weed['down'] / copy:.2f} | | >= 0.5 |"
    )
    print(f"| server peak RSS in the PUT run (MiB) | {farm['rss']:.0f} | {weed['rss']:.0f} | | <= 250 |")


if __name__ == "__main__":
    main()
