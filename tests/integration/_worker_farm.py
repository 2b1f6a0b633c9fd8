"""A farm for worker end-to-end tests: one queue, one customer-managed fleet, real worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess, WorkerProcess

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SUSPENDED", "NOT_COMPATIBLE"}
QUEUE_ROLE = "arn:aws:iam::123456789012:role/farmhand-e2e-jobs"
FLEET_ROLE = "arn:aws:iam::123456789012:role/farmhand-e2e-workers"


class Farm:
    """A farm with one queue and one customer-managed fleet associated with it, on a real server."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.deadline = server.client("deadline")
        self.logs = server.client("logs")
        self.farm_id = self.deadline.create_farm(displayName="e2e")["farmId"]
        self.queue_id = self.deadline.create_queue(
            farmId=self.farm_id,
            displayName="e2e",
            jobRunAsUser={"runAs": "WORKER_AGENT_USER"},
            roleArn=QUEUE_ROLE,
        )["queueId"]
        self.fleet_id = self.deadline.create_fleet(
            farmId=self.farm_id,
            displayName="e2e",
            roleArn=FLEET_ROLE,
            maxWorkerCount=8,
            configuration={
                "customerManaged": {
                    "mode": "NO_SCALING",
                    "workerCapabilities": {
                        "vCpuCount": {"min": 1},
                        "memoryMiB": {"min": 512},
                        "osFamily": "LINUX",
                        "cpuArchitectureType": "x86_64",
                    },
                }
            },
        )["fleetId"]
        self.deadline.create_queue_fleet_association(
            farmId=self.farm_id, queueId=self.queue_id, fleetId=self.fleet_id
        )

    def worker(self, data_dir: Path) -> WorkerProcess:
        return WorkerProcess(self.server, self.farm_id, self.fleet_id, data_dir, extra_args=["-v"]).start()

    def submit(self, template: dict[str, Any], **options: Any) -> str:
        params = options.pop("parameters", None)
        kwargs: dict[str, Any] = {"priority": 50, **options}
        if params:
            kwargs["parameters"] = {k: {"string": str(v)} for k, v in params.items()}
        return str(
            self.deadline.create_job(
                farmId=self.farm_id,
                queueId=self.queue_id,
                template=json.dumps(template),
                templateType="JSON",
                **kwargs,
            )["jobId"]
        )

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.deadline.get_job(farmId=self.farm_id, queueId=self.queue_id, jobId=job_id))

    def wait(self, job_id: str, timeout: float = 120.0, statuses: set[str] = TERMINAL) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["taskRunStatus"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} still {job['taskRunStatus']}: {job['taskRunStatusCounts']}"
                )
            time.sleep(0.2)

    def steps(self, job_id: str) -> list[dict[str, Any]]:
        return list(
            self.deadline.list_steps(farmId=self.farm_id, queueId=self.queue_id, jobId=job_id)["steps"]
        )

    def tasks(self, job_id: str, step_id: str) -> list[dict[str, Any]]:
        pages = self.deadline.get_paginator("list_tasks").paginate(
            farmId=self.farm_id, queueId=self.queue_id, jobId=job_id, stepId=step_id
        )
        return [task for page in pages for task in page["tasks"]]

    def sessions(self, job_id: str) -> list[dict[str, Any]]:
        pages = self.deadline.get_paginator("list_sessions").paginate(
            farmId=self.farm_id, queueId=self.queue_id, jobId=job_id
        )
        return [session for page in pages for session in page["sessions"]]

    def actions(self, job_id: str, **filters: str) -> list[dict[str, Any]]:
        pages = self.deadline.get_paginator("list_session_actions").paginate(
            farmId=self.farm_id, queueId=self.queue_id, jobId=job_id, **filters
        )
        return [action for page in pages for action in page["sessionActions"]]

    def action(self, job_id: str, action_id: str) -> dict[str, Any]:
        return dict(
            self.deadline.get_session_action(
                farmId=self.farm_id, queueId=self.queue_id, jobId=job_id, sessionActionId=action_id
            )
        )

    def session_log(self, session_id: str) -> list[str]:
        group = f"/aws/deadline/{self.farm_id}/{self.queue_id}"
        messages: list[str] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
            try:
                page = self.logs.get_log_events(logGroupName=group, logStreamName=session_id, **kwargs)
            except self.logs.exceptions.ResourceNotFoundException:
                return messages  # nothing shipped yet
            if not page["events"]:
                return messages
            messages += [e["message"] for e in page["events"]]
            token = page["nextForwardToken"]

    def job_log_once_it_has(self, job_id: str, lines: list[str], timeout: float = 15.0) -> str:
        """Every session log of the job, once all `lines` are in it (or the timeout passed)."""
        give_up = time.monotonic() + timeout
        while True:
            logs = "\n".join("\n".join(self.session_log(s["sessionId"])) for s in self.sessions(job_id))
            if all(line in logs for line in lines) or time.monotonic() > give_up:
                return logs
            time.sleep(0.3)

    def wait_for_log(self, session_id: str, text: str, timeout: float = 15.0) -> str:
        """The session's log once it contains `text` (workers ship logs about once a second)."""
        deadline = time.monotonic() + timeout
        while True:
            log = "\n".join(self.session_log(session_id))
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the log of {session_id}:\n{log}")
            time.sleep(0.2)


def step(
    name: str, command: str, *, frames: str | None = None, depends_on: str | None = None
) -> dict[str, Any]:
    """An OpenJD step running `command` with bash; `frames` gives it a Frame task parameter."""
    body: dict[str, Any] = {
        "name": name,
        "script": {
            "actions": {"onRun": {"command": "bash", "args": ["{{Task.File.Run}}"]}},
            "embeddedFiles": [{"name": "Run", "type": "TEXT", "data": command}],
        },
    }
    if frames:
        body["parameterSpace"] = {
            "taskParameterDefinitions": [{"name": "Frame", "type": "INT", "range": frames}]
        }
    if depends_on:
        body["dependencies"] = [{"dependsOn": depends_on}]
    return body


def job_template(name: str, *steps: dict[str, Any], parameters: list[str] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": name,
        "steps": list(steps),
    }
    if parameters:
        template["parameterDefinitions"] = [{"name": p, "type": "STRING"} for p in parameters]
    return template


def require_worker_protocol(farm: Farm) -> None:
    """Skip while the server does not serve the worker operations at all (501)."""
    try:
        farm.deadline.list_workers(farmId=farm.farm_id, fleetId=farm.fleet_id)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NotImplementedException":
            pytest.skip("this server does not serve the worker protocol")
        raise


# An EXPR job using what the farm accepts of the extension: typed list parameters, expressions in
# format strings, `let` bindings on the step, the step script, a job environment's script and a step
# environment's script; EXPR_LINES are what its actions print when every binding has its value.
EXPR_TEMPLATE: dict[str, Any] = {
    "specificationVersion": "jobtemplate-2023-09",
    "extensions": ["EXPR"],
    "name": "expr",
    "parameterDefinitions": [
        {"name": "N", "type": "INT", "default": 3},
        {"name": "Names", "type": "LIST[STRING]", "default": ["ann", "bob"]},
    ],
    "jobEnvironments": [
        {
            "name": "JobEnv",
            "script": {
                "let": ["greeting = 'hello ' + Param.Names[0]"],
                "actions": {"onEnter": {"command": "echo", "args": ["job env: {{greeting}}"]}},
            },
        }
    ],
    "steps": [
        {
            "name": "Expr",
            "let": ["double = Param.N * 2"],
            "parameterSpace": {
                "taskParameterDefinitions": [{"name": "Frame", "type": "INT", "range": "1-2"}]
            },
            "stepEnvironments": [
                {
                    "name": "StepEnv",
                    "script": {
                        "let": ["count = len(Param.Names)"],
                        "actions": {"onEnter": {"command": "echo", "args": ["step env: {{count}} names"]}},
                    },
                }
            ],
            "script": {
                "let": ["next = Task.Param.Frame + 1"],
                "actions": {
                    "onRun": {
                        "command": "echo",
                        "args": [
                            "frame {{Task.Param.Frame}} next {{next}}",
                            "double {{double}} sum {{Param.N + 10}}",
                        ],
                    }
                },
            },
        }
    ],
}
EXPR_LINES = [
    "job env: hello ann",
    "step env: 2 names",
    "frame 1 next 2 double 6 sum 13",
    "frame 2 next 3 double 6 sum 13",
]
