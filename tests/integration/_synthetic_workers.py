"""Synthetic workers: plain boto3 clients that drive the worker protocol the way the agents do.

A `SyntheticWorker` registers (CreateWorker with the admin keys), takes fleet-role credentials
(AssumeFleetRoleForWorker), starts (UpdateWorker STARTED) and then calls UpdateWorkerSchedule with the
updates of the actions it "ran" since the last call. An `outcome` function decides how each action
ends; after a non-SUCCEEDED action the rest of the session's queued non-exit actions are reported
NEVER_ATTEMPTED, as the agent does (spec §5.7).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import boto3

from farmhand.testing import ServerProcess

FLEET_ROLE = "arn:aws:iam::123456789012:role/farmhand-fleet"
LINUX_CAPABILITIES = {
    "amounts": [{"name": "amount.worker.vcpu", "value": 4}, {"name": "amount.worker.memory", "value": 8192}],
    "attributes": [
        {"name": "attr.worker.os.family", "values": ["linux"]},
        {"name": "attr.worker.cpu.arch", "values": ["x86_64"]},
    ],
}

Outcome = Callable[[dict[str, Any]], str]


def succeed(_: dict[str, Any]) -> str:
    return "SUCCEEDED"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def credentials_session(credentials: dict[str, Any]) -> boto3.Session:
    """A boto3 session signed with temporary credentials in the model's `AwsCredentials` shape."""
    return boto3.Session(
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        region_name="us-west-2",
    )


def farm_with_fleet(deadline: Any, *, gpu: bool = False) -> tuple[str, str, str]:
    """A farm, a queue and a customer-managed Linux fleet associated with it (ACTIVE)."""
    farm_id = deadline.create_farm(displayName="worker protocol")["farmId"]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="queue")["queueId"]
    capabilities: dict[str, Any] = {
        "vCpuCount": {"min": 1, "max": 16},
        "memoryMiB": {"min": 1024},
        "osFamily": "LINUX",
        "cpuArchitectureType": "x86_64",
    }
    if gpu:
        capabilities["acceleratorCount"] = {"min": 1, "max": 2}
    fleet_id = deadline.create_fleet(
        farmId=farm_id,
        displayName="fleet",
        roleArn=FLEET_ROLE,
        maxWorkerCount=10,
        configuration={"customerManaged": {"mode": "NO_SCALING", "workerCapabilities": capabilities}},
    )["fleetId"]
    deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    return farm_id, queue_id, fleet_id


def submit(deadline: Any, farm_id: str, queue_id: str, template: dict[str, Any], **kwargs: Any) -> str:
    job_id = str(
        deadline.create_job(
            farmId=farm_id,
            queueId=queue_id,
            template=json.dumps(template),
            templateType="JSON",
            priority=kwargs.pop("priority", 50),
            **kwargs,
        )["jobId"]
    )
    end = time.monotonic() + 30
    while time.monotonic() < end:
        job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        if job["lifecycleStatus"] != "CREATE_IN_PROGRESS":
            assert job["lifecycleStatus"] == "CREATE_COMPLETE", job
            return job_id
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} was never created")


def step(name: str, tasks: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "parameterSpace": {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": f"1-{tasks}"}]},
        "script": {"actions": {"onRun": {"command": "true"}}},
        **extra,
    }


def job_template(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"specificationVersion": "jobtemplate-2023-09", "name": "synthetic", "steps": list(steps), **extra}


class SyntheticWorker:
    def __init__(
        self,
        server: ServerProcess,
        farm_id: str,
        fleet_id: str,
        *,
        capabilities: dict[str, Any] | None = None,
        outcome: Outcome = succeed,
        start: bool = True,
    ) -> None:
        self.server = server
        self.farm_id = farm_id
        self.fleet_id = fleet_id
        self.outcome = outcome
        admin = server.client("deadline")
        self.worker_id = admin.create_worker(
            farmId=farm_id, fleetId=fleet_id, hostProperties={"hostName": "synthetic"}
        )["workerId"]
        credentials = admin.assume_fleet_role_for_worker(
            farmId=farm_id, fleetId=fleet_id, workerId=self.worker_id
        )["credentials"]
        self.credentials = credentials
        self.client = server.client("deadline", session=credentials_session(credentials))
        self.capabilities = capabilities or LINUX_CAPABILITIES
        self.updates: dict[str, dict[str, Any]] = {}
        self.done: set[str] = set()
        self.ran: list[dict[str, Any]] = []  # every action this worker ran, in order
        self.last: dict[str, Any] = {}
        self.wait_seconds = 0
        self.client.meta.events.register("before-sign.deadline.UpdateWorkerSchedule", self._wait_header)
        if start:
            self.start()

    def _wait_header(self, request: Any, **_: Any) -> None:
        if self.wait_seconds:
            request.headers["x-farmhand-wait-seconds"] = str(self.wait_seconds)

    def ids(self) -> dict[str, str]:
        return {"farmId": self.farm_id, "fleetId": self.fleet_id, "workerId": self.worker_id}

    def start(self) -> dict[str, Any]:
        return dict(self.client.update_worker(**self.ids(), status="STARTED", capabilities=self.capabilities))

    def poll(self) -> dict[str, Any]:
        """One UpdateWorkerSchedule carrying every update since the last successful one."""
        answer = self.client.update_worker_schedule(**self.ids(), updatedSessionActions=self.updates)
        self.updates = {}
        self.last = answer
        return dict(answer)

    def report_running(self, action_id: str) -> None:
        self.updates[action_id] = {"startedAt": now(), "updatedAt": now(), "progressPercent": 10.0}

    def run_assigned(self, answer: dict[str, Any] | None = None, *, limit: int | None = None) -> int:
        """Run the listed actions of every assigned session (outcome decides); returns how many ran."""
        answer = answer if answer is not None else self.last
        count = 0
        for session_id, session in answer.get("assignedSessions", {}).items():
            broken = False
            for action in session["sessionActions"]:
                action_id = action["sessionActionId"]
                if action_id in self.done:
                    continue
                if limit is not None and count >= limit:
                    return count
                kind = next(iter(action["definition"]))
                self.done.add(action_id)
                if broken and kind != "envExit":
                    self.updates[action_id] = {"completedStatus": "NEVER_ATTEMPTED", "updatedAt": now()}
                    continue
                record = {"sessionId": session_id, "id": action_id, **action["definition"]}
                status = self.outcome(record)
                record["status"] = status
                self.ran.append(record)
                started = now()
                self.updates[action_id] = {
                    "completedStatus": status,
                    "startedAt": started,
                    "endedAt": now(),
                    "updatedAt": now(),
                    "processExitCode": 0 if status == "SUCCEEDED" else 1,
                }
                count += 1
                if status != "SUCCEEDED" and kind != "envExit":
                    broken = True
        return count

    def work(self, rounds: int = 1) -> None:
        for _ in range(rounds):
            self.poll()
            self.run_assigned()

    def task_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.ran if "taskRun" in r]


def drive(workers: list[SyntheticWorker], until: Callable[[], bool], timeout: float = 60.0) -> None:
    """Round-robin the workers until `until()` holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for worker in workers:
            worker.work()
        if until():
            for worker in workers:
                worker.work()  # report the last results and receive the session ends
            return
    raise AssertionError("the farm did not get there in time")


def job_status(deadline: Any, farm_id: str, queue_id: str, job_id: str) -> dict[str, Any]:
    return dict(deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id))
