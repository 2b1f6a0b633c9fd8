"""The worker's log shipper against a real farm server, including one that goes away and comes back."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from farmhand.testing import ServerProcess
from farmhand.worker import LogShipper
from farmhand.worker._log_shipper import deliver_outstanding


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _all_messages(logs: Any, group: str, stream: str) -> list[str]:
    messages: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, **kwargs)
        if not page["events"]:
            return messages
        messages += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]


@pytest.mark.timeout(120)
def test_lines_written_while_the_server_is_down_arrive_once_it_is_back(tmp_path: Path) -> None:
    port = _free_port()
    server = ServerProcess(tmp_path / "farm", port=port).start()
    try:
        logs = server.client("logs", retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1)
        group, stream = "/aws/deadline/farm-x/queue-y", "session-z"
        shipper = LogShipper(lambda: logs, group, stream, flush_seconds=0.1, local_copy=tmp_path / "s.log")
        # Given lines shipped while the server is up
        for i in range(100):
            shipper.write(f"before {i}")
        assert shipper.flush(timeout=20)
        # When the server is killed and more lines are written
        server.kill()
        for i in range(100):
            shipper.write(f"during {i}")
        # Then they wait in the buffer
        assert not shipper.flush(timeout=1.0)
        assert shipper.pending == 100
        # And when the server is back they all arrive, in order, exactly once
        server = ServerProcess(tmp_path / "farm", port=port).start()
        assert shipper.flush(timeout=30)
        shipper.close()
        messages = _all_messages(server.client("logs"), group, stream)
        assert messages == [f"before {i}" for i in range(100)] + [f"during {i}" for i in range(100)]
        # And the local copy has every line too
        assert (tmp_path / "s.log").read_text().splitlines() == messages
    finally:
        server.stop()


def test_a_large_burst_is_sent_in_batches_within_the_limits(server: ServerProcess) -> None:
    logs = server.client("logs")
    group, stream = "/aws/deadline/farm-burst/queue-burst", "session-burst"
    shipper = LogShipper(lambda: logs, group, stream, flush_seconds=0.1)
    # Given 25,000 lines of 100 bytes (more than one PutLogEvents may carry)
    line = "x" * 95
    for i in range(25_000):
        shipper.write(f"{i:05d}{line}")
    # When flushed
    assert shipper.flush(timeout=60)
    shipper.close()
    # Then every line is stored, and the stream accounts for all bytes
    described = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert described["storedBytes"] == 25_000 * 100
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=1)["events"]
    assert tail[0]["message"].startswith("24999")


@pytest.mark.timeout(120)
def test_a_stream_closed_during_an_outage_is_still_delivered_when_the_server_returns(tmp_path: Path) -> None:
    port = _free_port()
    server = ServerProcess(tmp_path / "farm", port=port).start()
    try:
        logs = server.client("logs", retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1)
        group, stream = "/aws/deadline/farm-x/queue-y", "session-closed"
        shipper = LogShipper(lambda: logs, group, stream, flush_seconds=0.1)
        # Given a session whose last lines are written while the server is down
        server.kill()
        for i in range(50):
            shipper.write(f"last words {i}")
        # When the session ends (its stream is closed) before the server is back
        assert not shipper.close(timeout=0.5)
        server = ServerProcess(tmp_path / "farm", port=port).start()
        # Then the lines are delivered in the background, and nothing is left outstanding at exit
        assert deliver_outstanding(timeout=30) == 0
        assert _all_messages(server.client("logs"), group, stream) == [f"last words {i}" for i in range(50)]
    finally:
        server.stop()
