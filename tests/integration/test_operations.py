"""What operators and load balancers ask a farm server: health, readiness and Prometheus metrics,
and the server's options in a TOML file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from _synthetic_workers import SyntheticWorker, farm_with_fleet, job_template, step, submit
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from farmhand.testing import ServerProcess


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urlopen(Request(url, headers=headers or {}), timeout=30) as answer:
            return answer.status, answer.read()
    except HTTPError as error:
        return error.code, error.read()


def scrape(
    server: ServerProcess, headers: dict[str, str] | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) → value."""
    status, body = get(f"{server.url}/metrics", headers)
    assert status == 200, body
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_and_readyz_answer_without_credentials(server: ServerProcess) -> None:
    status, body = get(f"{server.url}/healthz")
    alive = json.loads(body)
    assert status == 200 and alive["status"] == "alive"
    assert alive["keepsHouse"] is True  # a server of its own keeps house for its farm
    status, body = get(f"{server.url}/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["status"] == "ready"
    assert ready["node"] == alive["node"]


def test_health_answers_name_nothing_of_the_farm(server: ServerProcess) -> None:
    server.client("deadline").create_farm(displayName="a secret farm name")
    _, body = get(f"{server.url}/healthz")
    assert set(json.loads(body)) == {"status", "node", "keepsHouse"}


def test_metrics_count_calls_errors_log_events_objects_and_dispatch_and_show_the_farm(
    server: ServerProcess,
) -> None:
    deadline = server.client("deadline")
    before = scrape(server)
    farm_id, queue_id, fleet_id = farm_with_fleet(deadline)
    with pytest.raises(ClientError):
        deadline.get_farm(farmId="farm-00000000000000000000000000000000")
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/metrics/test")
    logs.create_log_stream(logGroupName="/metrics/test", logStreamName="s")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/metrics/test",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms, "message": f"line {i}"} for i in range(5)],
    )
    s3 = server.client("s3")
    s3.create_bucket(Bucket="metrics-bucket")
    s3.put_object(Bucket="metrics-bucket", Key="Root/a", Body=b"x" * 1000)
    assert s3.get_object(Bucket="metrics-bucket", Key="Root/a")["Body"].read() == b"x" * 1000
    job_id = submit(deadline, farm_id, queue_id, job_template(step("Work", tasks=3)))
    worker = SyntheticWorker(server, farm_id, fleet_id)
    for _ in range(10):
        worker.work()
    job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
    assert job["taskRunStatus"] == "SUCCEEDED", job

    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("farmhand_api_calls_total", service="deadline", operation="CreateFarm") == 1
    assert (
        grew(
            "farmhand_api_errors_total",
            service="deadline",
            operation="GetFarm",
            code="ResourceNotFoundException",
        )
        == 1
    )
    assert grew("farmhand_api_call_seconds_count", service="deadline", operation="UpdateWorkerSchedule") >= 10
    assert grew("farmhand_log_events_ingested_total") == 5
    assert grew("farmhand_object_store_requests_total", method="PUT", status="2xx") >= 2
    assert grew("farmhand_object_store_bytes_total", direction="in") >= 1000
    assert grew("farmhand_object_store_bytes_total", direction="out") >= 1000
    assert grew("farmhand_dispatch_latency_seconds_count") == 3
    assert (
        value(after, "farmhand_workers", farm_id=farm_id, fleet_id=fleet_id, status="IDLE")
        + value(after, "farmhand_workers", farm_id=farm_id, fleet_id=fleet_id, status="RUNNING")
        == 1
    )
    assert value(after, "farmhand_tasks", farm_id=farm_id, queue_id=queue_id, status="SUCCEEDED") == 3
    assert value(after, "farmhand_jobs", farm_id=farm_id, queue_id=queue_id, status="SUCCEEDED") == 1


def start_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(tmp_path / "server", extra_args=list(args), env=env).start()


def test_metrics_access_by_bearer_token_or_off(tmp_path: Path) -> None:
    token = "a-metrics-token-of-some-length"
    server = start_server(tmp_path, "--metrics-access", "token", env={"FARMHAND_METRICS_TOKEN": token})
    try:
        assert get(f"{server.url}/metrics")[0] == 403
        assert get(f"{server.url}/metrics", {"Authorization": "Bearer wrong"})[0] == 403
        assert (
            value(
                scrape(server, {"Authorization": f"Bearer {token}"}),
                "farmhand_server_info",
                node=json.loads(get(f"{server.url}/healthz")[1])["node"],
            )
            == 1
        )
    finally:
        server.stop()


def test_a_configuration_file_sets_options_and_flags_win(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('metrics-access = "off"\nworker_timeout_seconds = 45\nport = 1\n')
    server = start_server(tmp_path, "--config", str(config), "--port", "0")
    try:
        assert get(f"{server.url}/metrics")[0] == 403  # from the file
        assert get(f"{server.url}/healthz")[0] == 200  # --port 0 won over the file's port 1
    finally:
        server.stop()


def run_server_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmhand.server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )


def test_a_configuration_file_with_unknown_settings_or_readable_secrets_is_refused(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("port = 0\nwroker_timeout_seconds = 45\n")
    refused = run_server_command("--config", str(unknown), "--data-dir", str(tmp_path / "d1"))
    assert refused.returncode != 0 and "unknown settings: wroker_timeout_seconds" in refused.stderr
    readable = tmp_path / "readable.toml"
    readable.write_text('database_url = "postgresql+psycopg://farm:secret@db/farm"\n')
    readable.chmod(0o644)
    refused = run_server_command("--config", str(readable), "--data-dir", str(tmp_path / "d2"))
    assert refused.returncode != 0 and "chmod 600" in refused.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    refused = run_server_command("--config", str(broken), "--data-dir", str(tmp_path / "d3"))
    assert refused.returncode != 0 and "not valid TOML" in refused.stderr


@pytest.fixture(scope="module")
def forgetful_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server applying retention every half second, purging jobs archived for about 2 s."""
    args = ["--retention-interval-seconds", "0.5", "--archived-job-retention-days", str(2 / 86400)]
    with ServerProcess(tmp_path_factory.mktemp("forgetful"), extra_args=args) as server:
        yield server


def _wait_for(condition: Any, timeout: float = 30) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.2)


def test_log_groups_honour_their_retention_in_days(forgetful_server: ServerProcess) -> None:
    logs = forgetful_server.client("logs")
    group = "/retention/test"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now_ms = int(time.time() * 1000)
    day_ms = 86400 * 1000
    for age_days, message in ((3, "three days old"), (2, "two days old"), (0, "new")):
        # one call each: a batch of PutLogEvents may not span more than 24 hours
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now_ms - age_days * day_ms, "message": message}],
        )
    with pytest.raises(ClientError) as refused:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    time.sleep(1.5)
    assert len(logs.get_log_events(logGroupName=group, logStreamName="s")["events"]) == 3  # no policy yet

    logs.put_retention_policy(logGroupName=group, retentionInDays=1)

    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 1

    def messages() -> list[str]:
        return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName="s")["events"]]

    _wait_for(lambda: messages() == ["new"])
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_archived_jobs_and_their_logs_are_purged_after_their_retention(
    forgetful_server: ServerProcess,
) -> None:
    deadline = forgetful_server.client("deadline")
    logs = forgetful_server.client("logs")
    farm_id, queue_id, fleet_id = farm_with_fleet(deadline)
    kept, archived = (
        submit(deadline, farm_id, queue_id, job_template(step("Work", tasks=2))) for _ in range(2)
    )
    worker = SyntheticWorker(forgetful_server, farm_id, fleet_id)
    for _ in range(10):
        worker.work()
    sessions = deadline.list_sessions(farmId=farm_id, queueId=queue_id, jobId=archived)["sessions"]
    group = f"/aws/deadline/{farm_id}/{queue_id}"
    logs.create_log_group(logGroupName=group)  # synthetic workers ship no logs: write some for them
    for session in sessions:
        logs.create_log_stream(logGroupName=group, logStreamName=session["sessionId"])
        logs.put_log_events(
            logGroupName=group,
            logStreamName=session["sessionId"],
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "a line of the session"}],
        )

    deadline.update_job(farmId=farm_id, queueId=queue_id, jobId=archived, lifecycleStatus="ARCHIVED")

    def gone() -> bool:
        try:
            deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=archived)
            return False
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"

    _wait_for(gone)
    streams = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
    assert not streams & {s["sessionId"] for s in sessions}
    assert deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=kept)["taskRunStatus"] == "SUCCEEDED"
    assert deadline.list_sessions(farmId=farm_id, queueId=queue_id, jobId=kept)["sessions"]


DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


@pytest.mark.parametrize("unit", ["farmhand-server.service", "farmhand-worker.service"])
def test_the_example_systemd_units_pass_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    """Verified as installed: the ExecStart points at this environment's `farmhand`."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: .ci/run installs Debian's systemd package"
    farmhand = Path(sys.executable).with_name("farmhand")
    text = (DEPLOY / unit).read_text()
    assert "/opt/farmhand/bin/farmhand" in text
    (tmp_path / unit).write_text(text.replace("/opt/farmhand/bin/farmhand", str(farmhand)))
    verified = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / unit)], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_the_example_server_configuration_starts_a_server(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--config",
        str(DEPLOY / "server.toml"),
        "--host",
        "127.0.0.1",
        env={"FARMHAND_METRICS_TOKEN": "the token of the example configuration"},
    )
    try:
        assert get(f"{server.url}/metrics")[0] == 403  # metrics_access = "token" from the file
        assert get(f"{server.url}/readyz")[0] == 200
    finally:
        server.stop()
