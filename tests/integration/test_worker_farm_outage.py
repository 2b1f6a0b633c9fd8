"""A standalone worker survives its farm going away and coming back, and still stops promptly.

The server is killed while the worker holds a long poll (the worker sees the connection closed),
stays down for a while (connections refused), and starts again on the same port: the worker keeps
retrying, logs the outage once, and takes work again. SIGTERM while the farm is down ends it quickly.
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from _worker_farm import Farm, job_template, step

from farmhand.testing import ServerProcess, WorkerProcess

pytestmark = pytest.mark.timeout(300)

OUTAGE_LINE = "the farm did not answer"
BACK_LINE = "the farm answers again"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_survives_a_farm_restart_and_stops_promptly_while_it_is_down(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(tmp_path / "server", port=port).start()
    worker: WorkerProcess | None = None
    try:
        farm = Farm(server)
        worker = farm.worker(tmp_path / "worker")
        worker.wait_registered()
        first = farm.submit(job_template("before", step("Work", "echo before")))
        assert farm.wait(first, timeout=90)["taskRunStatus"] == "SUCCEEDED"
        time.sleep(1)  # the idle worker is now holding a long poll

        # When the server is killed under it and stays down for a while
        server.kill()
        wait_until(lambda: OUTAGE_LINE in worker.output(), 30, "the worker to notice the outage")
        time.sleep(8)
        # Then the worker is still running, and has said so once, not once per attempt
        assert worker.alive(), worker.output()
        assert worker.output().count(OUTAGE_LINE) == 1, worker.output()

        # When the server starts again on the same port and store
        server = ServerProcess(tmp_path / "server", port=port).start()
        farm.deadline = server.client("deadline")
        # Then the worker takes work again and says the farm is back
        second = farm.submit(job_template("after", step("Work", "echo after")))
        assert farm.wait(second, timeout=90)["taskRunStatus"] == "SUCCEEDED"
        wait_until(lambda: BACK_LINE in worker.output(), 30, "the worker to report the farm back")

        # When the server goes away again and the worker is asked to stop
        server.kill()
        wait_until(lambda: worker.output().count(OUTAGE_LINE) == 2, 30, "the worker to notice")
        assert worker.process is not None
        asked = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        code = worker.process.wait(30)
        took = time.monotonic() - asked
        # Then it exits cleanly within ten seconds
        print(f"SIGTERM with the farm down: the worker exited after {took:.1f} s")
        assert code == 0, worker.output()
        assert took < 10, worker.output()
    finally:
        if worker is not None:
            worker.stop(timeout=30)
        server.stop()


def test_a_worker_started_while_the_farm_is_down_waits_for_it_and_stops_promptly(tmp_path: Path) -> None:
    # Given a farm whose server is down when a new worker starts
    port = free_port()
    server = ServerProcess(tmp_path / "server", port=port).start()
    farm = Farm(server)
    server.stop()
    worker = farm.worker(tmp_path / "worker")
    try:
        # Then the worker waits for the farm, saying so once
        wait_until(lambda: OUTAGE_LINE in worker.output(), 60, "the worker to notice the farm is down")
        time.sleep(3)
        assert worker.alive() and worker.output().count(OUTAGE_LINE) == 1, worker.output()
        # And SIGTERM ends it cleanly within ten seconds
        assert worker.process is not None
        asked = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(30) == 0, worker.output()
        assert time.monotonic() - asked < 10, worker.output()
    finally:
        worker.stop(timeout=30)
