"""Lost workers and impossible host requirements, on a server with a 2-second worker timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _synthetic_workers import SyntheticWorker, farm_with_fleet, job_status, job_template, step, submit
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def farm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(
        Path(tmp_path_factory.mktemp("worker-reclaim")), env={"FARMHAND_WORKER_TIMEOUT_SECONDS": "2"}
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def admin(farm_server: ServerProcess) -> Any:
    return farm_server.client("deadline")


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def test_a_silent_workers_task_goes_to_another_worker_without_counting_a_failure(
    farm_server: ServerProcess, admin: Any
) -> None:
    # Given worker A running the only task of a job
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 1)))
    lost = SyntheticWorker(farm_server, farm_id, fleet_id)
    answer = lost.poll()
    ((session_id, session),) = answer["assignedSessions"].items()
    task_action = next(a for a in session["sessionActions"] if "taskRun" in a["definition"])
    lost.report_running(task_action["sessionActionId"])
    lost.poll()

    # When A stops calling in for longer than the timeout
    wait_for(lambda: admin.get_worker(**lost.ids())["status"] == "NOT_RESPONDING")

    # Then its action is RECLAIMED, its session ENDED and the task READY again, with no failure counted
    action = admin.get_session_action(
        farmId=farm_id, queueId=queue_id, jobId=job_id, sessionActionId=task_action["sessionActionId"]
    )
    assert action["status"] == "RECLAIMED"
    ended = admin.get_session(farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id)
    assert ended["lifecycleStatus"] == "ENDED"
    job = job_status(admin, farm_id, queue_id, job_id)
    assert job["taskRunStatusCounts"]["READY"] == 1 and job.get("taskFailureRetryCount", 0) == 0

    # And another worker runs it to success
    rescuer = SyntheticWorker(farm_server, farm_id, fleet_id)
    for _ in range(4):
        rescuer.work()
    assert job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "SUCCEEDED"

    # And the lost worker, calling again, is told it is not online; it may start over
    with pytest.raises(ClientError) as info:
        lost.poll()
    assert info.value.response["reason"] == "STATUS_CONFLICT"
    assert info.value.response["context"] == {"status": "NOT_RESPONDING"}
    lost.start()
    assert lost.poll()["assignedSessions"] == {}


def test_a_worker_whose_agent_never_started_it_is_not_responding_and_not_capacity(
    farm_server: ServerProcess, admin: Any
) -> None:
    # Given a worker registered in a fleet whose agent failed before UpdateWorker(STARTED)
    farm_id, _, fleet_id = farm_with_fleet(admin)
    stuck = SyntheticWorker(farm_server, farm_id, fleet_id, start=False)
    assert admin.get_worker(**stuck.ids())["status"] == "CREATED"
    # Then it is no capacity of the fleet
    assert admin.get_fleet(farmId=farm_id, fleetId=fleet_id)["workerCount"] == 0
    # When the worker timeout passes
    wait_for(lambda: admin.get_worker(**stuck.ids())["status"] == "NOT_RESPONDING")
    # Then it is NOT_RESPONDING, like a worker that stopped calling in, and its agent may start it again
    stuck.start()
    assert admin.get_worker(**stuck.ids())["status"] == "STARTED"
    assert admin.get_fleet(farmId=farm_id, fleetId=fleet_id)["workerCount"] == 1


def test_a_step_no_fleet_can_run_is_not_compatible(farm_server: ServerProcess, admin: Any) -> None:
    # Given a queue whose only fleet has no GPUs, and a job with a GPU step and a plain step
    farm_id, queue_id, _ = farm_with_fleet(admin)
    gpu = step("Gpu", 2, hostRequirements={"amounts": [{"name": "amount.worker.gpu", "min": 1}]})
    job_id = submit(admin, farm_id, queue_id, job_template(gpu, step("Cpu", 1)))
    steps = {s["name"]: s for s in admin.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"]}

    # When the farm looks at it
    def gpu_step_status() -> str:
        found = admin.get_step(farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=steps["Gpu"]["stepId"])
        return str(found["taskRunStatus"])

    # Then the GPU step is NOT_COMPATIBLE and the other step is untouched
    wait_for(lambda: gpu_step_status() == "NOT_COMPATIBLE")
    counts = job_status(admin, farm_id, queue_id, job_id)["taskRunStatusCounts"]
    assert counts["NOT_COMPATIBLE"] == 2 and counts["READY"] == 1


def test_the_fleet_decides_compatibility_not_the_workers_registered_in_it(
    farm_server: ServerProcess, admin: Any
) -> None:
    # Given a fleet declaring 1 to 16 vCPUs, a 4-vCPU worker in it, and a step needing 4 to 8 vCPUs
    farm_id, queue_id, fleet_id = farm_with_fleet(admin)
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    wanted = {"amounts": [{"name": "amount.worker.vcpu", "min": 4, "max": 8}]}
    job_id = submit(admin, farm_id, queue_id, job_template(step("FourToEight", 1, hostRequirements=wanted)))
    # When the worker asks for work
    answer = worker.poll()
    # Then it gets none, though it meets the step: its fleet may hold hosts outside 4 to 8 vCPUs
    assert answer["assignedSessions"] == {}
    # And the step is NOT_COMPATIBLE, as Deadline Cloud marks it
    wait_for(lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "NOT_COMPATIBLE")


def test_a_step_a_gpu_fleet_can_run_stays_ready(farm_server: ServerProcess, admin: Any) -> None:
    # Given a queue whose fleet declares GPUs
    farm_id, queue_id, fleet_id = farm_with_fleet(admin, gpu=True)
    gpu = step("Gpu", 1, hostRequirements={"amounts": [{"name": "amount.worker.gpu", "min": 1}]})
    job_id = submit(admin, farm_id, queue_id, job_template(gpu))
    # When a worker without a GPU asks for work, it gets none; a GPU worker gets it
    plain = SyntheticWorker(farm_server, farm_id, fleet_id)
    assert plain.poll()["assignedSessions"] == {}
    time.sleep(1.5)  # at least one housekeeping pass
    assert job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "READY"
    caps = {
        "amounts": [{"name": "amount.worker.vcpu", "value": 4}, {"name": "amount.worker.gpu", "value": 1}],
        "attributes": [
            {"name": "attr.worker.os.family", "values": ["linux"]},
            {"name": "attr.worker.cpu.arch", "values": ["x86_64"]},
        ],
    }
    gpu_worker = SyntheticWorker(farm_server, farm_id, fleet_id, capabilities=caps)
    for _ in range(4):
        gpu_worker.work()
    assert job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "SUCCEEDED"
