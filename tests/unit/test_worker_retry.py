"""Worker calls ride out every kind of transport fault, logging one line per outage.

A tiny HTTP server stands in for a farm that is failing: it closes connections, answers 5xx or
throttles, or does not answer at all, a few times, then answers. A real boto3 client calls it.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from farmhand.worker._retry import FARM_OUTAGE, call_with_retry, is_transient

pytestmark = pytest.mark.timeout(60)

GOOD = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"farms":[]}'
FAULTS = {
    "connection closed": b"",
    "internal error": (
        b"HTTP/1.1 500 Internal Server Error\r\nx-amzn-ErrorType: InternalServerException\r\n"
        b'Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{"message":"x"}'
    ),
    "bad gateway": b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\n\r\nBad Gateway",
    "throttled": (
        b"HTTP/1.1 429 Too Many Requests\r\nx-amzn-ErrorType: ThrottlingException\r\n"
        b'Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{"message":"x"}'
    ),
    "no answer": None,
}


class FailingFarm:
    """Answers its first `failures` requests with `fault` (None: reads, then says nothing), then 200."""

    def __init__(self, fault: bytes | None, failures: int) -> None:
        self.fault, self.failures = fault, failures
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.requests += 1
            if self.requests > self.failures:
                conn.sendall(GOOD)
            elif self.fault is None:
                self._held.append(conn)  # never answered
                continue
            elif self.fault:
                conn.sendall(self.fault)
            conn.close()

    def close(self) -> None:
        self.listener.close()
        for conn in self._held:
            conn.close()


@pytest.fixture(autouse=True)
def no_outage_left() -> Iterator[None]:
    FARM_OUTAGE.recovered()
    yield
    FARM_OUTAGE.recovered()


def client(url: str) -> Any:
    config = Config(
        retries={"mode": "standard", "max_attempts": 1},
        read_timeout=0.5,
        connect_timeout=1,
        inject_host_prefix=False,
    )
    return boto3.client(
        "deadline",
        endpoint_url=url,
        region_name="us-west-2",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=config,
    )


@pytest.mark.parametrize("fault", list(FAULTS))
def test_transient_faults_are_retried_with_one_line_per_outage(
    fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a farm that fails three calls in a row this way, then answers
    farm = FailingFarm(FAULTS[fault], failures=3)
    try:
        deadline = client(farm.url)
        caplog.set_level(logging.INFO, logger="farmhand.worker")
        # When a worker call is made
        answer = call_with_retry("ListFarms", deadline.list_farms)
    finally:
        farm.close()
    # Then it succeeds on the fourth attempt, after one line for the outage and one for its end
    assert answer["farms"] == [] and farm.requests == 4
    lines = [r.getMessage() for r in caplog.records if r.name == "farmhand.worker"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("the farm did not answer ListFarms") and lines[1].startswith(
        "the farm answers again"
    )


def test_a_refused_connection_is_transient_and_a_stop_ends_the_retries() -> None:
    # Given a farm that is not listening at all
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    deadline = client(url)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    # When a call is retried until the agent is asked to stop
    with pytest.raises(Exception) as raised:
        call_with_retry("ListFarms", deadline.list_farms, stop=stop)
    # Then it was retried as a transient fault, and the stop ended it
    assert is_transient(raised.value) and FARM_OUTAGE.ongoing


def test_client_errors_are_not_retried() -> None:
    refused = ClientError(
        {"Error": {"Code": "AccessDeniedException"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "ListFarms"
    )
    unserved = ClientError(
        {"Error": {"Code": "NotImplementedException"}, "ResponseMetadata": {"HTTPStatusCode": 501}},
        "ListFarms",
    )
    assert not is_transient(refused) and not is_transient(unserved)
