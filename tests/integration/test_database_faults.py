"""The farm's PostgreSQL database restarting, away or out of connections: retryable faults, no 500s,
recovery without a restart of the farm server, nothing acknowledged lost.

Each test runs a PostgreSQL cluster of its own (they stop it), a real farm server and real workers.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import psycopg
import pytest
from _worker_farm import Farm, job_template, step
from botocore.exceptions import ClientError

from _postgres import PostgresCluster, find_postgres_bin, unavailable_reason
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    reason = unavailable_reason()
    bin_dir = find_postgres_bin()
    if reason is not None or bin_dir is None:
        pytest.skip(reason or "PostgreSQL not available")
    cluster = PostgresCluster(bin_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def error_of(call: Any) -> dict[str, Any]:
    """The error a call fails with: code, HTTP status and headers."""
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return {
        "code": response["Error"]["Code"],
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
        "headers": response["ResponseMetadata"]["HTTPHeaders"],
    }


def http_status(url: str) -> int:
    try:
        with urlopen(url, timeout=30) as answer:
            return int(answer.status)
    except HTTPError as error:
        return error.code


def test_calls_during_an_outage_are_retryable_faults_and_the_server_recovers_by_itself(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    with ServerProcess(tmp_path / "server", database_url=own_cluster.new_database()) as server:
        once = {"retries": {"total_max_attempts": 1}}
        deadline = server.client("deadline", **once)
        logs = server.client("logs", **once)
        sts = server.client("sts", **once)
        farm_id = deadline.create_farm(displayName="before the outage")["farmId"]

        own_cluster.stop_server()
        try:
            throttled = error_of(deadline.list_farms)
            assert throttled["code"] == "ThrottlingException" and throttled["status"] == 429
            assert int(throttled["headers"]["retry-after"]) >= 1
            assert (
                error_of(lambda: deadline.create_farm(displayName="during"))["code"] == "ThrottlingException"
            )
            unavailable = error_of(logs.describe_log_groups)
            assert unavailable["code"] == "ServiceUnavailableException" and unavailable["status"] == 503
            assert error_of(sts.get_caller_identity)["status"] == 503
            assert http_status(f"{server.url}/readyz") == 503
            assert http_status(f"{server.url}/healthz") == 200
        finally:
            own_cluster.start_server()

        deadline_at = time.monotonic() + 60
        while True:
            try:
                farms = deadline.list_farms()["farms"]
                break
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ThrottlingException"
                assert time.monotonic() < deadline_at, "the server did not recover"
                time.sleep(0.5)
        assert [f["farmId"] for f in farms] == [farm_id]
        assert http_status(f"{server.url}/readyz") == 200
        assert not [line for line in server.output if "Traceback" in line], "".join(server.output)


def test_a_job_runs_through_database_restarts_and_no_acknowledged_write_is_lost(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """`pg_ctl restart` twice mid-job while workers run tasks and a client keeps creating farms."""
    with ServerProcess(tmp_path / "server", database_url=own_cluster.new_database()) as server:
        farm = Farm(server)
        agents = [farm.worker(tmp_path / f"w{i}") for i in range(2)]
        acknowledged: list[str] = []
        answers: Counter[str] = Counter()
        stop = threading.Event()

        def keep_writing() -> None:
            client = server.client("deadline", retries={"total_max_attempts": 1})
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    acknowledged.append(client.create_farm(displayName=f"write {n}")["farmId"])
                    answers["ok"] += 1
                except ClientError as error:
                    answers[error.response["Error"]["Code"]] += 1
                time.sleep(0.05)

        writer = threading.Thread(target=keep_writing)
        try:
            for agent in agents:
                agent.wait_registered()
            job_id = farm.submit(job_template("restarts", step("Frames", "sleep 0.5", frames="1-12")))
            writer.start()
            _wait_until(lambda: farm.job(job_id)["taskRunStatusCounts"].get("SUCCEEDED", 0) >= 2, 120)
            own_cluster.restart_server()
            _wait_until(lambda: _succeeded(farm, job_id) >= 6, 120)
            own_cluster.restart_server()
            _wait_until(lambda: farm.job(job_id)["taskRunStatus"] in ("SUCCEEDED", "FAILED"), 240)
            job = farm.job(job_id)
            stop.set()
            writer.join()

            assert job["taskRunStatus"] == "SUCCEEDED", job
            runs = Counter(
                a["definition"]["taskRun"]["taskId"]
                for a in farm.actions(job_id)
                if "taskRun" in a["definition"] and a["status"] == "SUCCEEDED"
            )
            assert len(runs) == 12 and set(runs.values()) == {1}, runs
            assert set(answers) <= {"ok", "ThrottlingException"}, answers
            stored = {
                f["farmId"]
                for page in farm.deadline.get_paginator("list_farms").paginate()
                for f in page["farms"]
            }
            assert set(acknowledged) <= stored
            assert not [line for line in server.output if "Traceback" in line], "".join(server.output)
        finally:
            stop.set()
            if writer.is_alive():
                writer.join()
            for agent in agents:
                agent.stop(timeout=30)


def test_an_exhausted_connection_pool_answers_throttling_instead_of_hanging(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Three connections (a pool of 1, overflowing to 3), all stuck behind a table lock held outside
    the farm: the other calls get ThrottlingException after the pool timeout, and all succeed once
    the lock is gone."""
    url = own_cluster.new_database()
    args = ["--database-pool-size", "1", "--database-pool-timeout", "0.5"]
    with ServerProcess(tmp_path / "server", database_url=url, extra_args=args) as server:
        client = server.client("deadline", retries={"total_max_attempts": 1}, read_timeout=120)
        client.create_farm(displayName="locked away")
        client.list_farms()  # the admin's key is cached: calls need the database only for their work
        outcomes: list[tuple[str, float]] = []

        def list_farms() -> None:
            started = time.monotonic()
            try:
                client.list_farms()
                outcomes.append(("ok", time.monotonic() - started))
            except ClientError as error:
                outcomes.append((error.response["Error"]["Code"], time.monotonic() - started))

        database = url.rsplit("/", 1)[1]
        with psycopg.connect(
            f"host=127.0.0.1 port={own_cluster.port} user=postgres dbname={database}"
        ) as lock:
            lock.execute("LOCK TABLE resources IN ACCESS EXCLUSIVE MODE")
            calls = [threading.Thread(target=list_farms) for _ in range(10)]
            for call in calls:
                call.start()
            _wait_until(lambda: len(outcomes) >= 7, 60)
            throttled = list(outcomes)
            lock.rollback()
        for call in calls:
            call.join(60)
        assert all(code == "ThrottlingException" for code, _ in throttled), throttled
        assert Counter(code for code, _ in outcomes) == {"ThrottlingException": 7, "ok": 3}, outcomes
        assert json.loads(urlopen(f"{server.url}/readyz", timeout=10).read())["status"] == "ready"


def _succeeded(farm: Farm, job_id: str) -> int:
    try:
        return int(farm.job(job_id)["taskRunStatusCounts"].get("SUCCEEDED", 0))
    except ClientError:
        return 0


def _wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except ClientError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
