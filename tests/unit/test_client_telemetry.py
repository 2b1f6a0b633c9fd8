"""Telemetry: what is sent, when it is not sent, and that it never disturbs the caller.

Events go to a real HTTP listener on loopback standing in for the farm's telemetry endpoint.
"""

from __future__ import annotations

import configparser
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from farmhand.client import config
from farmhand.client.api import _session, _telemetry
from farmhand.client.api._telemetry import (
    TelemetryClient,
    is_telemetry_opted_out,
    record_function_latency_telemetry_event,
    record_success_fail_telemetry_event,
)

pytestmark = pytest.mark.timeout(60)


class Collector:
    """A loopback HTTP endpoint recording every POST; answers with the next queued status (200 default)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.statuses: list[int] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.requests.append((self.path, dict(self.headers), json.loads(body)))
                status = collector.statuses.pop(0) if collector.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def events(self, wait_for: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < wait_for and time.monotonic() < deadline:
            time.sleep(0.02)
        return [body for _, _, body in self.requests]


@pytest.fixture
def collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    endpoint = Collector()
    aws_config = tmp_path / "aws_config"
    aws_config.write_text("[default]\nregion = us-west-2\n")
    credentials = tmp_path / "aws_credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_ENDPOINT_URL_DEADLINE", endpoint.url)
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline_config"))
    monkeypatch.delenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for marker in ("AI_AGENT", "AGENT", "CLAUDECODE", "CLAUDE_CODE", "CODEX_SANDBOX", "CODEX_THREAD_ID"):
        monkeypatch.delenv(marker, raising=False)  # events then say invoked_by HUMAN
    for marker in ("CURSOR_AGENT", "REPL_ID", "GEMINI_CLI", "OPENCODE", "AUGMENT_AGENT", "GOOSE_PROVIDER"):
        monkeypatch.delenv(marker, raising=False)
    monkeypatch.setenv("EDITOR", "vi")
    monkeypatch.setenv("TERM_PROGRAM", "xterm")
    _session.clear_session_caches()
    _telemetry._clients.clear()
    yield endpoint
    endpoint.server.shutdown()
    _telemetry._clients.clear()
    _session.clear_session_caches()


def rum_events(bodies: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(e["type"], json.loads(e["details"])) for body in bodies for e in body["RumEvents"]]


def test_an_event_is_posted_with_the_workstation_identity(collector: Collector) -> None:
    # When a client records an event
    client = TelemetryClient("my-submitter", "2.5.1.dev3")
    client.record_event("render_started", {"frames": 10})
    bodies = collector.events(wait_for=2)
    # Then it is posted (unsigned) to <deadline endpoint>/2023-10-12/telemetry after process_start
    assert [path for path, _, _ in collector.requests] == ["/2023-10-12/telemetry"] * 2
    assert "Authorization" not in collector.requests[0][1]
    assert [t for t, _ in rum_events(bodies)] == [
        "com.amazon.rum.deadline.process_start",
        "com.amazon.rum.deadline.render_started",
    ]
    details = rum_events(bodies)[1][1]
    assert details["frames"] == 10 and details["usage_mode"] == "CLI"
    body = bodies[1]
    assert body["UserDetails"] == {
        "sessionId": client.session_id,
        "userId": config.get_setting("telemetry.identifier"),
    }
    metadata = json.loads(body["RumEvents"][0]["metadata"])
    assert metadata["service"] == "my-submitter" and metadata["version"] == "2.5.1"


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "yes", "On", "1"])
def test_env_opt_out_is_case_insensitive(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # Section 8, defect 4: only lower-case values opted out
    monkeypatch.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", value)
    client = TelemetryClient("pkg", "1.0.0")
    client.record_event("anything", {})
    time.sleep(0.2)
    assert is_telemetry_opted_out()
    assert collector.requests == []
    assert client._thread is None


def test_env_value_false_overrides_config_opt_out(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.set_setting("telemetry.opt_out", "true")
    monkeypatch.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", "false")
    assert not is_telemetry_opted_out()


def test_an_agent_is_reported_as_such(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_AGENT", "helper-bot")
    client = TelemetryClient("pkg", "1.0.0")
    client.record_event("by_agent", {})
    bodies = collector.events(wait_for=2)
    details = next(d for t, d in rum_events(bodies) if t.endswith("by_agent"))
    assert (details["invoked_by"], details["agent_name"]) == ("AGENT", "helper-bot")


def test_decorated_calls_honour_the_passed_config(collector: Collector) -> None:
    # Section 8, defect 4: the decorator used the on-disk config, ignoring the caller's opt-out
    opted_out = config.read_config()
    config.set_setting("telemetry.opt_out", "true", opted_out)

    @record_function_latency_telemetry_event()
    def list_things(config: configparser.ConfigParser | None = None) -> str:
        return "things"

    assert list_things(config=opted_out) == "things"
    assert list_things() == "things"
    bodies = collector.events(wait_for=2)
    latency_events = [d for t, d in rum_events(bodies) if t == "com.amazon.rum.deadline.latency"]
    assert len(latency_events) == 1
    assert latency_events[0]["function_call"] == "list_things"
    assert latency_events[0]["is_success"] is True and latency_events[0]["latency"] > 0


def test_success_fail_decorator_records_failures_and_reraises(collector: Collector) -> None:
    @record_success_fail_telemetry_event(metric_name="do_work", event_details={"kind": "test"})
    def do_work(fail: bool, from_gui: bool = False) -> int:
        if fail:
            raise KeyError("boom")
        return 1

    assert do_work(False) == 1
    with pytest.raises(KeyError):
        do_work(True, from_gui=True)
    bodies = collector.events(wait_for=3)
    work = [d for t, d in rum_events(bodies) if t == "com.amazon.rum.deadline.do_work"]
    assert work == [
        {"invoked_by": "HUMAN", "kind": "test", "is_success": True, "usage_mode": "CLI"},
        {
            "invoked_by": "HUMAN",
            "kind": "test",
            "is_success": False,
            "exception_type": "KeyError",
            "usage_mode": "GUI",
        },
    ]


def test_identifier_write_persists_only_the_identifier(collector: Collector) -> None:
    # Section 8, defect 1: generating the identifier wrote the caller's in-memory overrides to disk
    config.set_setting("defaults.aws_profile_name", "disk-profile")
    in_memory = config.read_config()
    config.set_setting("defaults.aws_profile_name", "default", in_memory)
    client = TelemetryClient("pkg", "1.0.0", config=in_memory)
    written = configparser.ConfigParser()
    written.read(config.get_config_file_path())
    assert written.get("defaults", "aws_profile_name") == "disk-profile"
    assert written.get("telemetry", "identifier") == client.identifier
    assert config.get_setting("telemetry.identifier", in_memory) == client.identifier


def test_telemetry_never_blocks_or_raises_when_the_endpoint_is_gone(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DEADLINE", "http://127.0.0.1:9")
    _session.clear_session_caches()
    client = TelemetryClient("pkg", "1.0.0")
    started = time.monotonic()
    for number in range(200):
        client.record_event("flood", {"n": number})
    assert time.monotonic() - started < 1.0
    assert client.event_queue.qsize() <= 25


def test_server_errors_are_retried(collector: Collector) -> None:
    collector.statuses = [200, 500, 429]  # process_start ok, then the event fails twice
    client = TelemetryClient("pkg", "1.0.0")
    client.record_event("retried", {})
    bodies = collector.events(wait_for=4, timeout=10)
    assert [t for t, _ in rum_events(bodies)].count("com.amazon.rum.deadline.retried") == 3


def test_common_details_and_error_traces(collector: Collector) -> None:
    # Given common details set once
    client = TelemetryClient("pkg", "1.0.0")
    client.update_common_details({"studio": "north"})
    # When an error is recorded with its trace, and a cancellation too
    from farmhand.client.exceptions import DeadlineOperationCanceled, DeadlineOperationError

    try:
        config.get_setting("nodot")
    except DeadlineOperationError as error:
        client.record_error_with_trace(error, "submission")

    client.record_error_with_trace(DeadlineOperationCanceled(), "submission")
    bodies = collector.events(wait_for=2)
    errors = [d for t, d in rum_events(bodies) if t == "com.amazon.rum.deadline.error"]
    # Then the error carries the common details and only farmhand's frames; cancels are not errors
    assert len(errors) == 1
    assert errors[0]["studio"] == "north"
    assert (errors[0]["exception_type"], errors[0]["exception_scope"]) == (
        "DeadlineOperationError",
        "submission",
    )
    frames = errors[0]["stack_trace"].splitlines()
    assert frames and all(frame.startswith("farmhand/") for frame in frames)
    assert any(frame.startswith("farmhand/client/config/_config_file.py:") for frame in frames)


def test_without_a_region_telemetry_waits_quietly(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a profile with no region and no endpoint override
    monkeypatch.delenv("AWS_ENDPOINT_URL_DEADLINE")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    Path(os.environ["AWS_CONFIG_FILE"]).write_text("[default]\n")
    _session.clear_session_caches()
    # When a client is made and used, nothing is raised and it stays uninitialised
    client = _telemetry.get_telemetry_client("no-region", "1.0.0")
    client.record_event("dropped", {})
    assert not client.is_initialized
    # And once a region exists, the next lookup initialises it
    monkeypatch.setenv("AWS_ENDPOINT_URL_DEADLINE", collector.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    _session.clear_session_caches()
    assert _telemetry.get_telemetry_client("no-region", "1.0.0").is_initialized
