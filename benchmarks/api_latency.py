"""API latency: GetFarm and ListQueues from one boto3 client on loopback, beside the floor.

The floor is a boto3 client built the same way (same session, same config) against a trivial HTTP
server in its own process that answers canned, valid GetFarm/ListQueues JSON in one write with
TCP_NODELAY: what botocore itself costs (signing, HTTP, parsing). The difference is what the farm
server adds. The two are measured in alternating batches of 100 calls so that load from other
processes weighs on both alike.

    python benchmarks/api_latency.py            # 2000 calls per operation
    python benchmarks/api_latency.py --quick    # 200 calls per operation
    python benchmarks/api_latency.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from botocore.config import Config

from farmhand.testing import ServerProcess

FARM_ID = "farm-" + "0" * 32
CANNED = {
    "GetFarm": {
        "farmId": FARM_ID,
        "displayName": "benchmark farm",
        "costScaleFactor": 100.0,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "createdBy": "arn:aws:iam::000000000000:user/admin",
    },
    "ListQueues": {
        "queues": [
            {
                "farmId": FARM_ID,
                "queueId": f"queue-{i:032x}",
                "displayName": f"queue {i}",
                "status": "IDLE",
                "defaultBudgetAction": "NONE",
                "createdAt": "2026-01-01T00:00:00.000Z",
                "createdBy": "arn:aws:iam::000000000000:user/admin",
            }
            for i in range(10)
        ]
    },
}


class _CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body = json.dumps(CANNED["ListQueues" if path.endswith("/queues") else "GetFarm"]).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nx-amzn-RequestId: canned\r\n\r\n"
        ).encode()
        self.wfile.write(head + body)  # one write

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve_canned(port_out: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CannedHandler)
    port_out.put(server.server_address[1])
    server.serve_forever()


BATCH = 100


def _measure_alternately(
    farm_call: Callable[[], Any], floor_call: Callable[[], Any], count: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Both targets in alternating batches, so machine load weighs on farmhand and floor alike."""
    for _ in range(min(50, count)):
        farm_call()  # warm-up: connections, caches
        floor_call()
    timings: dict[str, tuple[list[float], list[float]]] = {"farm": ([], []), "floor": ([], [])}
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        for name, call in (("farm", farm_call), ("floor", floor_call)):
            latencies, batch_elapsed = timings[name]
            started = time.perf_counter()
            for _ in range(size):
                begin = time.perf_counter()
                call()
                latencies.append(time.perf_counter() - begin)
            batch_elapsed.append(time.perf_counter() - started)
        done += size
    return _figures(*timings["farm"], count), _figures(*timings["floor"], count)


def _figures(latencies: list[float], batch_elapsed: list[float], count: int) -> dict[str, float]:
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rps": count / sum(batch_elapsed),
    }


def _row(name: str, figures: dict[str, float]) -> str:
    p50, p99, rps = figures["p50_ms"], figures["p99_ms"], figures["rps"]
    return f"{name:<32} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   {rps:8.0f} req/s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 calls per operation instead of 2000")
    parser.add_argument("--calls", type=int, default=None, help="calls per operation")
    parser.add_argument("--database-url", default=None, help="run the farm server on this database")
    args = parser.parse_args()
    count = args.calls or (200 if args.quick else 2000)

    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    floor_process = context.Process(target=_serve_canned, args=(port_queue,), daemon=True)
    floor_process.start()
    floor_url = f"http://127.0.0.1:{port_queue.get(timeout=30)}"

    with (
        tempfile.TemporaryDirectory() as data_dir,
        ServerProcess(Path(data_dir), database_url=args.database_url) as server,
    ):
        session = server.boto3_session()
        farm = server.client("deadline", session=session)
        farm_id = farm.create_farm(displayName="benchmark farm")["farmId"]
        for i in range(10):
            farm.create_queue(farmId=farm_id, displayName=f"queue {i}")
        floor = session.client("deadline", endpoint_url=floor_url, config=Config(inject_host_prefix=False))
        store = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"{count} calls per operation, one boto3 client per target, loopback, farm server on {store}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for operation, farm_call, floor_call in (
            ("GetFarm", lambda: farm.get_farm(farmId=farm_id), lambda: floor.get_farm(farmId=FARM_ID)),
            (
                "ListQueues (10 queues)",
                lambda: farm.list_queues(farmId=farm_id),
                lambda: floor.list_queues(farmId=FARM_ID),
            ),
        ):
            farm_figures, floor_figures = _measure_alternately(farm_call, floor_call, count)
            print(_row(f"{operation} farmhand", farm_figures))
            print(_row(f"{operation} floor", floor_figures))
    floor_process.terminate()


if __name__ == "__main__":
    main()
