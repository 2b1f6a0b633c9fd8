"""Every operation the farm serves, fuzzed from the service models with the mutation classes a
hostile client sends, on SQLite and PostgreSQL: no answer is a 5xx.

The operations are those of Deadline Cloud, CloudWatch Logs and STS (botocore's models) and of the
farm's own JSON services (farmhand-identity with its unsigned sign-in calls, farmhand-scheduling),
each called with real ids of a small world (a farm whose job a worker ran, users and groups, a
signed-in refresh token, a device code), plus the job-attachment batch endpoint's bodies.

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

import botocore.session
import pytest
from _fuzz import BATCH_OPERATIONS, MUTATIONS, PAGE_TARGETS, BatchFuzzer, Fuzzer, FuzzReport, PageFuzzer
from _management import create_fleet
from _synthetic_workers import SyntheticWorker, drive

from farmhand._models import IDENTITY_SERVICE, SCHEDULING_SERVICE, add_models_to
from farmhand.client.sign_in import unsigned_identity_client
from farmhand.server.handlers import load_handlers
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(1800)

REQUESTS_PER_STORE = int(os.environ.get("FARMHAND_FUZZ_REQUESTS", "2000"))
SEED = int(os.environ.get("FARMHAND_FUZZ_SEED", "20261204"))
SERVICES = ("deadline", "logs", "sts", IDENTITY_SERVICE, SCHEDULING_SERVICE)
PASSWORD = "fuzzing is a long password"
BATCH_BUCKET = "fuzz-attachments"

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
    # A worker runs the job, so sessions and session actions exist (BatchGetSession* on real items)
    worker = SyntheticWorker(server, farm, fleet)
    drive([worker], lambda: len(worker.task_runs()) == len(tasks))
    ids = {"farmId": farm, "queueId": queue, "jobId": job}
    sessions = [s["sessionId"] for s in deadline.list_sessions(**ids)["sessions"]]
    actions = [a["sessionActionId"] for a in deadline.list_session_actions(**ids)["sessionActions"]]
    # Users and groups, a signed-in user's refresh token and a pending device code
    session = server.boto3_session()
    add_models_to(session._session)
    identity = server.client(IDENTITY_SERVICE, session=session)
    identity.create_user(userName="fuzzer", password=PASSWORD)
    identity.create_group(groupName="fuzzers")
    identity.add_group_member(groupName="fuzzers", userName="fuzzer")
    sign_in = unsigned_identity_client(server.url)
    refresh_token = sign_in.sign_in(userName="fuzzer", password=PASSWORD)["refreshToken"]
    device_code = sign_in.start_device_authorization(clientName="fuzz")["deviceCode"]
    # A bucket of the farm's object store for the batch endpoint
    server.client("s3").create_bucket(Bucket=BATCH_BUCKET)
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
        "workerId": [worker.worker_id],
        "sessionId": sessions,
        "sessionActionId": actions,
        "userName": ["fuzzer"],
        "groupName": ["fuzzers"],
        "password": [PASSWORD],
        "refreshToken": [refresh_token],
        "deviceCode": [device_code],
    }


def served_operations() -> list[tuple[str, str]]:
    """Every operation the farm answers: its handlers, and the unsigned (sign-in) calls of its models."""
    handled = set(load_handlers())
    session = botocore.session.get_session()
    add_models_to(session)
    operations = []
    for service in SERVICES:
        model = session.get_service_model(service)
        for name in model.operation_names:
            if (service, name) in handled or model.operation_model(name).auth_type == "none":
                operations.append((service, name))
    return sorted(operations)


def fuzz(server: ServerProcess, requests: int, seed: int) -> FuzzReport:
    """`requests` fuzzed calls spread over every operation the farm serves."""
    ids = world(server)
    admin = server.admin
    operations = [
        *served_operations(),
        *(("batch", name) for name in BATCH_OPERATIONS),
        *(("page", f"{method} {path}") for method, path in PAGE_TARGETS),
    ]
    fuzzers = {
        service: Fuzzer(server.url, admin.access_key_id, admin.secret_access_key, service, ids, seed)
        for service in SERVICES
    }
    batch = BatchFuzzer(server.url, admin.access_key_id, admin.secret_access_key, BATCH_BUCKET, "Fuzz", seed)
    pages = PageFuzzer(server.url, ids["refreshToken"][0], "fuzzer", PASSWORD, seed)
    report = FuzzReport(operations=len(operations))
    try:
        for index in range(requests):
            service, name = operations[index % len(operations)]
            mutation = MUTATIONS[(index // len(operations)) % len(MUTATIONS)]
            if service == "batch":
                outcome = batch.run(name, mutation)
            elif service == "page":
                method, path = name.split(" ", 1)
                outcome = pages.run(method, path, mutation)
            else:
                outcome = fuzzers[service].run(name, mutation)
            if outcome.status:
                report.add(outcome)
    finally:
        batch.close()
        for fuzzer in fuzzers.values():
            fuzzer.close()
    return report


@pytest.fixture(params=["sqlite", "postgres"])
def fuzzed_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own: the fuzzer creates and deletes things other tests would see."""
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgres" else None
    with ServerProcess(tmp_path / "farm", database_url=url) as server:
        yield server


def test_every_served_operation_is_fuzzed() -> None:
    operations = served_operations()
    handled = set(load_handlers())
    assert handled <= set(operations), handled - set(operations)
    assert {(IDENTITY_SERVICE, "SignIn"), (IDENTITY_SERVICE, "CreateTokenWithDeviceCode")} <= set(operations)
    assert {service for service, _ in operations} == set(SERVICES)


def test_no_fuzzed_request_gets_a_server_error(fuzzed_server: ServerProcess, record_property: Any) -> None:
    server = fuzzed_server
    # Given every operation the farm serves and every mutation class
    # When each operation is called with each mutation (round-robin) for the run's request budget
    report = fuzz(server, REQUESTS_PER_STORE, SEED)
    store = "postgres" if server.database_url else "sqlite"
    summary = (
        f"{store}: {report.requests} requests over {report.operations} operations, "
        f"{len(report.server_errors)} 5xx, by status {report.by_status}"
    )
    print(summary)
    record_property("fuzz", summary)
    # Then no answer is a 5xx
    assert report.server_errors == [], "\n".join(
        f"{e.operation} [{e.mutation}] -> {e.status}: {e.detail}" for e in report.server_errors[:20]
    )
    # And the server still serves ordinary calls
    assert server.client("deadline").list_farms()["farms"]
