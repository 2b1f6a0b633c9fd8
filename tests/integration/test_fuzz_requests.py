"""Every implemented operation of Deadline Cloud and CloudWatch Logs, fuzzed from botocore's models
with the mutation classes a hostile client sends, on SQLite and PostgreSQL: no answer is a 5xx.

The run is reproducible (a fixed seed) and bounded: FARMHAND_FUZZ_REQUESTS requests per store
(default 2,000, under a minute each on an idle machine); FARMHAND_FUZZ_SEED picks another sequence.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fuzz import MUTATIONS, Fuzzer, FuzzReport
from _management import create_fleet

from farmhand.server.handlers import load_handlers
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(1800)

REQUESTS_PER_STORE = int(os.environ.get("FARMHAND_FUZZ_REQUESTS", "2000"))
SEED = int(os.environ.get("FARMHAND_FUZZ_SEED", "20261204"))

TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "fuzz",
    "steps": [
        {
            "name": "Frames",
            "parameterSpace": {"taskParameterDefinitions": [{"name": "F", "type": "INT", "range": "1-3"}]},
            "script": {"actions": {"onRun": {"command": "echo"}}},
        }
    ],
}


def world(server: ServerProcess) -> dict[str, list[str]]:
    """Real ids for the members that name resources, so requests reach the handlers' logic."""
    deadline = server.client("deadline")
    logs = server.client("logs")
    farm = deadline.create_farm(displayName="fuzz")["farmId"]
    queue = deadline.create_queue(farmId=farm, displayName="fuzz")["queueId"]
    fleet = create_fleet(deadline, farm, "fuzz")
    deadline.create_queue_fleet_association(farmId=farm, queueId=queue, fleetId=fleet)
    job = deadline.create_job(
        farmId=farm, queueId=queue, priority=50, template=json.dumps(TEMPLATE), templateType="JSON"
    )["jobId"]
    for _ in range(100):
        if deadline.get_job(farmId=farm, queueId=queue, jobId=job)["lifecycleStatus"] != "CREATE_IN_PROGRESS":
            break
        time.sleep(0.1)
    step = deadline.list_steps(farmId=farm, queueId=queue, jobId=job)["steps"][0]["stepId"]
    tasks = [
        t["taskId"] for t in deadline.list_tasks(farmId=farm, queueId=queue, jobId=job, stepId=step)["tasks"]
    ]
    logs.create_log_group(logGroupName="/fuzz")
    logs.create_log_stream(logGroupName="/fuzz", logStreamName="stream")
    logs.put_log_events(
        logGroupName="/fuzz",
        logStreamName="stream",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": f"line {i}"} for i in range(5)],
    )
    return {
        "farmId": [farm],
        "queueId": [queue],
        "fleetId": [fleet],
        "jobId": [job],
        "stepId": [step],
        "taskId": tasks,
        "logGroupName": ["/fuzz"],
        "logGroupIdentifier": ["/fuzz"],
        "logStreamName": ["stream"],
        "logStreamNames": ["stream"],
        "queueIds": [queue],
        "fleetIds": [fleet],
        "principalId": ["admin"],
    }


def fuzz(server: ServerProcess, requests: int, seed: int) -> FuzzReport:
    """`requests` fuzzed calls spread over every implemented Deadline and Logs operation."""
    ids = world(server)
    admin = server.admin
    operations = sorted(
        (service, name) for service, name in load_handlers() if service in ("deadline", "logs")
    )
    fuzzers = {
        service: Fuzzer(server.url, admin.access_key_id, admin.secret_access_key, service, ids, seed)
        for service in ("deadline", "logs")
    }
    report = FuzzReport()
    try:
        for index in range(requests):
            service, name = operations[index % len(operations)]
            mutation = MUTATIONS[(index // len(operations)) % len(MUTATIONS)]
            outcome = fuzzers[service].run(name, mutation)
            if outcome.status:
                report.add(outcome)
    finally:
        for fuzzer in fuzzers.values():
            fuzzer.close()
    return report


@pytest.fixture(params=["sqlite", "postgres"])
def fuzzed_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own: the fuzzer creates and deletes things other tests would see."""
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgres" else None
    with ServerProcess(tmp_path / "farm", database_url=url) as server:
        yield server


def test_no_fuzzed_request_gets_a_server_error(fuzzed_server: ServerProcess, record_property: Any) -> None:
    server = fuzzed_server
    # Given every implemented Deadline and Logs operation and every mutation class
    # When each operation is called with each mutation (round-robin) for the run's request budget
    report = fuzz(server, REQUESTS_PER_STORE, SEED)
    store = "postgres" if server.database_url else "sqlite"
    summary = (
        f"{store}: {report.requests} requests, {len(report.server_errors)} 5xx, by status {report.by_status}"
    )
    print(summary)
    record_property("fuzz", summary)
    # Then no answer is a 5xx
    assert report.server_errors == [], "\n".join(
        f"{e.operation} [{e.mutation}] -> {e.status}: {e.detail}" for e in report.server_errors[:20]
    )
    # And the server still serves ordinary calls
    assert server.client("deadline").list_farms()["farms"]
