"""ExplainJob: the farm says why a job's unfinished work is where it is, for every state it can be in.

A real server, synthetic workers driving the worker protocol, and a real botocore client of the
`farmhand-scheduling` model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _synthetic_workers import (
    SyntheticWorker,
    farm_with_fleet,
    job_status,
    job_template,
    step,
    submit,
)
from botocore.exceptions import ClientError

from farmhand._models import SCHEDULING_SERVICE, add_models_to
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(
        Path(tmp_path_factory.mktemp("explain")), env={"FARMHAND_WORKER_FAILURE_CAP": "1"}
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Any:
    return server.client("deadline")


@pytest.fixture(scope="module")
def scheduling(server: ServerProcess) -> Any:
    session = server.boto3_session()
    add_models_to(session._session)
    return server.client(SCHEDULING_SERVICE, session=session)


def explain(scheduling: Any, farm_id: str, queue_id: str, job_id: str) -> dict[str, Any]:
    return dict(scheduling.explain_job(farmId=farm_id, queueId=queue_id, jobId=job_id))


def reasons_of(answer: dict[str, Any], step_name: str, status: str | None = None) -> list[dict[str, Any]]:
    (found,) = [s for s in answer["steps"] if s["name"] == step_name]
    return [r for r in found["reasons"] if status is None or r["status"] == status]


def eventually(check: Any, timeout: float = 20.0) -> Any:
    give_up = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > give_up:
            return result
        time.sleep(0.2)


def test_a_queue_without_a_fleet(admin: Any, scheduling: Any) -> None:
    # Given a queue no fleet is associated with, and a job in it
    farm_id = admin.create_farm(displayName="no fleet")["farmId"]
    queue_id = admin.create_queue(farmId=farm_id, displayName="Lonely")["queueId"]
    job_id = submit(admin, farm_id, queue_id, job_template(step("A")))
    # When the farm explains it
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    # Then it says no fleet serves the queue
    assert reason["code"] == "NO_FLEET"
    assert "no fleet is associated with queue Lonely" in reason["message"]


def test_a_stopped_association(admin: Any, scheduling: Any) -> None:
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    admin.update_queue_fleet_association(
        farmId=farm_id, queueId=queue_id, fleetId=fleet_id, status="STOP_SCHEDULING_AND_COMPLETE_TASKS"
    )
    job_id = submit(admin, farm_id, queue_id, job_template(step("A")))
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    assert reason["code"] == "ASSOCIATION_NOT_ACTIVE"
    assert reason["fleetIds"] == [fleet_id]
    assert "fleet fleet is STOP_SCHEDULING_AND_COMPLETE_TASKS" in reason["message"]


def test_no_worker_registered_then_none_online(server: ServerProcess, admin: Any, scheduling: Any) -> None:
    # Given a fleet without workers
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A")))
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    assert reason["code"] == "NO_WORKER" and "no worker is registered in fleet fleet" in reason["message"]
    # When a worker registers but never starts (its agent failed before STARTED)
    worker = SyntheticWorker(server, farm_id, fleet_id, start=False)
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    # Then the farm says it is not online, and why
    assert reason["code"] == "NO_WORKER_ONLINE"
    assert reason["workerIds"] == [worker.worker_id]
    assert "1 CREATED" in reason["message"] and "never started" in reason["message"]


def test_host_requirements_no_online_worker_meets(server: ServerProcess, admin: Any, scheduling: Any) -> None:
    # Given a GPU fleet whose only online worker reported no GPU, and a step needing one
    farm_id, queue_id, fleet_id = farm_with_fleet(admin, gpu=True)
    worker = SyntheticWorker(server, farm_id, fleet_id)
    gpu = {"amounts": [{"name": "amount.worker.gpu", "min": 1}]}
    job_id = submit(admin, farm_id, queue_id, job_template(step("Gpu", hostRequirements=gpu)))
    # When the farm explains it
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "Gpu", "READY")
    # Then it names the requirement and what the workers have
    assert reason["code"] == "WORKERS_DO_NOT_MEET_REQUIREMENTS"
    assert reason["message"] == (
        "needs amount.worker.gpu ≥ 1; the only online worker of fleet fleet has nothing reported"
    )
    assert reason["requirement"] == "amount.worker.gpu ≥ 1" and reason["workerIds"] == [worker.worker_id]


def test_not_compatible_names_what_no_fleet_meets(admin: Any, scheduling: Any) -> None:
    # Given a step needing 4 to 8 vCPUs, and a queue whose only fleet declares 1 to 16
    farm_id, queue_id, _ = farm_with_fleet(admin)
    wanted = {"amounts": [{"name": "amount.worker.vcpu", "min": 4, "max": 8}]}
    job_id = submit(admin, farm_id, queue_id, job_template(step("FourToEight", hostRequirements=wanted)))
    eventually(lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "NOT_COMPATIBLE")
    # When the farm explains it
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "FourToEight", "NOT_COMPATIBLE")
    # Then it says what the step needs and what the fleet declares
    assert reason["message"] == "needs amount.worker.vcpu between 4 and 8; fleet fleet declares 1 to 16"


def test_pending_names_the_upstream_step(admin: Any, scheduling: Any) -> None:
    farm_id, queue_id, _ = farm_with_fleet(admin)
    template = job_template(step("Render", 3), step("Encode", dependencies=[{"dependsOn": "Render"}]))
    job_id = submit(admin, farm_id, queue_id, template)
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "Encode", "PENDING")
    assert reason["code"] == "WAITING_FOR_STEPS"
    assert reason["message"] == "waits for step Render (0/3 succeeded, READY)"


def test_busy_workers_and_the_jobs_place_in_line(server: ServerProcess, admin: Any, scheduling: Any) -> None:
    # Given the only worker running a task of an urgent job, and two jobs waiting behind it
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    urgent = submit(admin, farm_id, queue_id, job_template(step("U")), priority=90)
    worker = SyntheticWorker(server, farm_id, fleet_id)
    answer = worker.poll()
    ((_, session),) = answer["assignedSessions"].items()
    run = next(a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"])
    worker.report_running(run)
    worker.poll()
    submit(admin, farm_id, queue_id, job_template(step("Next")), priority=60)
    last = submit(admin, farm_id, queue_id, job_template(step("Last")), priority=10)
    # When the farm explains the last one
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, last), "Last", "READY")
    # Then every worker that can run it is busy, and the job is second in line
    assert reason["code"] == "WORKERS_BUSY"
    assert reason["position"] == 2 and reason["count"] == 2
    assert f"{worker.worker_id} on {urgent}" in reason["message"]
    assert "2nd by priority among the 2 jobs" in reason["message"]
    # And the urgent job's step says who runs it
    (running,) = reasons_of(explain(scheduling, farm_id, queue_id, urgent), "U", "RUNNING")
    assert running["workerIds"] == [worker.worker_id]


def test_an_idle_worker_is_about_to_take_it(server: ServerProcess, admin: Any, scheduling: Any) -> None:
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    worker = SyntheticWorker(server, farm_id, fleet_id)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A")))
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    assert reason["code"] == "STARTING" and reason["workerIds"] == [worker.worker_id]


def test_max_worker_count_reached(server: ServerProcess, admin: Any, scheduling: Any) -> None:
    # Given a job limited to one worker, which a worker holds, and a second idle worker
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 4)), maxWorkerCount=1)
    holder = SyntheticWorker(server, farm_id, fleet_id)
    answer = holder.poll()
    ((_, session),) = answer["assignedSessions"].items()
    runs = [a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"]]
    holder.report_running(runs[0])
    holder.poll()
    SyntheticWorker(server, farm_id, fleet_id)
    # When the farm explains the READY tasks
    reasons = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    # Then they wait for the worker that holds the job (the other may not join)
    assert [r["code"] for r in reasons] == ["WORKERS_BUSY"]
    assert reasons[0]["workerIds"] == [holder.worker_id]


def test_the_failure_cap_keeps_a_worker_off_while_another_can_take_it(
    server: ServerProcess, admin: Any, scheduling: Any
) -> None:
    # Given a server capping workers at 1 failure per job, a worker that failed a task of the job,
    # and a second worker that is busy elsewhere
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 2)), maxRetriesPerTask=5, priority=10)
    bad = SyntheticWorker(
        server, farm_id, fleet_id, outcome=lambda a: "FAILED" if "taskRun" in a else "SUCCEEDED"
    )
    bad.work()
    bad.work()
    assert len(bad.task_runs()) == 1
    other = SyntheticWorker(server, farm_id, fleet_id)
    busy_job = submit(admin, farm_id, queue_id, job_template(step("B")), priority=90)
    answer = other.poll()
    ((_, session),) = answer["assignedSessions"].items()
    assert session["jobId"] == busy_job
    # When the farm explains the first job
    reasons = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "READY")
    # Then it names the capped worker and the one it waits for
    assert [r["code"] for r in reasons] == ["FAILURE_CAP", "WORKERS_BUSY"]
    assert reasons[0]["workerIds"] == [bad.worker_id]
    assert reasons[1]["workerIds"] == [other.worker_id]


def test_suspended_and_canceled_say_by_whom(admin: Any, scheduling: Any) -> None:
    farm_id, queue_id, _ = farm_with_fleet(admin)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 2)))
    admin.update_job(farmId=farm_id, queueId=queue_id, jobId=job_id, targetTaskRunStatus="SUSPENDED")
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "SUSPENDED")
    caller = job_status(admin, farm_id, queue_id, job_id)["updatedBy"]
    assert reason["by"] == caller and reason["message"] == f"2 tasks SUSPENDED by {caller}"
    admin.update_job(farmId=farm_id, queueId=queue_id, jobId=job_id, targetTaskRunStatus="CANCELED")
    (reason,) = reasons_of(explain(scheduling, farm_id, queue_id, job_id), "A", "CANCELED")
    assert reason["by"] == caller


def test_a_job_of_another_queue_is_not_found(admin: Any, scheduling: Any) -> None:
    farm_id, queue_id, _ = farm_with_fleet(admin)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A")))
    other_queue = admin.create_queue(farmId=farm_id, displayName="other")["queueId"]
    with pytest.raises(ClientError) as caught:
        explain(scheduling, farm_id, other_queue, job_id)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
