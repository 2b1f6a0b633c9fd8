"""Every operation the farm serves, by every kind of caller, against the access table.

The requests are generated from the botocore models' operation lists and input shapes, naming the
resources of one queue Q (job J), one fleet FL (worker W) and their farm. Callers: farm OWNER,
MANAGER, CONTRIBUTOR, VIEWER, a user with no membership, another queue's user credentials, Q's read
credentials, FL's read credentials, a worker of another fleet, the admin. What each may do is
restated here from the table's fields (the level, and which credentials reach the call); each call
the table denies must answer AccessDeniedException and leave the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from _access_world import LEVELS, World, build_world, create_user
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import Shape

from farmhand._models import add_models_to
from farmhand.server.access import QueueUse, Rule, rule_for
from farmhand.server.handlers import load_handlers
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(900)

CALLERS = (*LEVELS, "none", "other-queue", "queue-read", "fleet-read", "other-worker", "admin")
RANK = {level: rank for rank, level in enumerate(reversed(LEVELS), start=1)}  # VIEWER 1 .. OWNER 4
QUEUE_SIDE = ("queue", "job", "association", "queue-logs")
FLEET_SIDE = ("fleet", "worker", "association", "fleet-logs")
BATCH_MEMBERS = ("identifiers", "jobs", "tasks")
JOB_TEMPLATE = json.dumps(
    {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "matrix",
        "steps": [{"name": "A", "script": {"actions": {"onRun": {"command": "true"}}}}],
    }
)


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A farm of its own (no worker is reclaimed while the matrix runs, so the store stays still)."""
    with ServerProcess(
        tmp_path_factory.mktemp("matrix"), extra_args=["--worker-timeout-seconds", "3600"]
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def world(matrix_server: ServerProcess) -> World:
    return build_world(matrix_server)


# --- requests generated from the models --------------------------------------------------------------


class Requests:
    """Valid requests for any operation, naming Q, J, FL, W and their farm."""

    def __init__(self, world: World) -> None:
        admin = world.admin
        session_id, action_id = _session_of(world)
        step_id = admin.list_steps(farmId=world.farm, queueId=world.queue, jobId=world.job)["steps"][0][
            "stepId"
        ]
        task_id = admin.list_tasks(farmId=world.farm, queueId=world.queue, jobId=world.job, stepId=step_id)[
            "tasks"
        ][0]["taskId"]
        environment = admin.create_queue_environment(
            farmId=world.farm, queueId=world.queue, priority=1, templateType="JSON", template=_environment()
        )["queueEnvironmentId"]
        profile = admin.create_storage_profile(farmId=world.farm, displayName="profile", osFamily="LINUX")[
            "storageProfileId"
        ]
        self.dummy = create_user(world.server, "dummy")
        self.log_group = f"/aws/deadline/{world.farm}/{world.queue}"
        logs = world.server.client("logs")
        logs.put_log_events(
            logGroupName=self.log_group,
            logStreamName=session_id,
            logEvents=[{"timestamp": _millis(), "message": "a session line"}],
        )
        self.ids: dict[str, Any] = {
            "farmId": world.farm,
            "queueId": world.queue,
            "fleetId": world.fleet,
            "jobId": world.job,
            "stepId": step_id,
            "taskId": task_id,
            "sessionId": session_id,
            "sessionActionId": action_id,
            "workerId": world.worker.worker_id,
            "queueEnvironmentId": environment,
            "storageProfileId": profile,
            "principalId": self.dummy.principal_id,
            "identityStoreId": world.identity_store,
            "resourceArn": f"arn:aws:deadline:us-west-2:{world.server.admin.account_id}:"
            f"farm/{world.farm}/queue/{world.queue}",
            "queueIds": [world.queue],
            "fleetIds": [world.fleet],
            "logGroupName": self.log_group,
            "logStreamName": session_id,
        }
        self.overrides: dict[str, dict[str, Any]] = {
            "CreateJob": {"template": JOB_TEMPLATE, "templateType": "JSON", "priority": 50},
            "CreateQueueEnvironment": {"template": _environment(), "templateType": "JSON"},
            "CreateFleet": {
                "roleArn": "arn:aws:iam::123456789012:role/fleet",
                "configuration": admin.get_fleet(farmId=world.farm, fleetId=world.fleet)["configuration"],
            },
            "AssociateMemberToFarm": {"principalType": "USER", "membershipLevel": "VIEWER"},
            "AssociateMemberToQueue": {"principalType": "USER", "membershipLevel": "VIEWER"},
            "AssociateMemberToFleet": {"principalType": "USER", "membershipLevel": "VIEWER"},
            "AssociateMemberToJob": {"principalType": "USER", "membershipLevel": "VIEWER"},
            "UpdateWorkerSchedule": {"updatedSessionActions": {}},
            "PutLogEvents": {"logEvents": [{"timestamp": _millis(), "message": "x"}]},
            "CopyJobTemplate": {"targetS3Location": {"bucketName": "bucket", "key": "template.json"}},
            "UpdateTask": {"targetRunStatus": "READY"},
            "UpdateStep": {"targetTaskRunStatus": "READY"},
            "UpdateSession": {"targetLifecycleStatus": "ENDED"},
            "UpdateQueueFleetAssociation": {"status": "ACTIVE"},
            "UntagResource": {"tagKeys": ["nothing"]},
            "CreateLogGroup": {"logGroupName": f"/aws/deadline/{world.farm}/{world.queue}"},
        }

    def params(self, service: str, name: str) -> dict[str, Any]:
        operation = _model(service).operation_model(name)
        shape = operation.input_shape
        members = {} if shape is None else self._structure(shape, set(shape.required_members))
        if service == "logs" and name != "DescribeLogGroups":
            members.setdefault("logGroupName", self.log_group)
        return {**members, **self.overrides.get(name, {})}

    def _structure(self, shape: Shape, wanted: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            if name in wanted:
                out[name] = self._value(name, member)
        return out

    def _value(self, name: str, shape: Shape) -> Any:
        if name in self.ids:
            return self.ids[name]
        if name == "identifiers" or name in ("jobs", "tasks"):
            return [self._item(shape.member)]  # type: ignore[attr-defined]
        kind = shape.type_name
        if kind == "structure":
            required = set(shape.required_members)  # type: ignore[attr-defined]
            if shape.metadata.get("union"):
                first = next(iter(shape.members))  # type: ignore[attr-defined]
                return {first: self._value(first, shape.members[first])}  # type: ignore[attr-defined]
            return self._structure(shape, required)
        if kind == "list":
            return [self._value(name, shape.member)]  # type: ignore[attr-defined]
        if kind == "map":
            return {}
        if kind == "string":
            return shape.enum[0] if shape.enum else "x" * max(1, shape.metadata.get("min", 1))  # type: ignore[attr-defined]
        if kind in ("integer", "long"):
            return max(0, int(shape.metadata.get("min", 0)))
        if kind in ("float", "double"):
            return 1.0
        if kind == "boolean":
            return False
        if kind == "timestamp":
            return dt.datetime.now(dt.UTC)
        return b"x"

    def _item(self, shape: Shape) -> dict[str, Any]:
        """A batch item naming Q/J/FL/W by every id member its shape has (a union: job details)."""
        if shape.metadata.get("union"):
            return {"jobDetails": {"jobId": self.ids["jobId"]}}
        item = {k: self.ids[k] for k in shape.members if k in self.ids}  # type: ignore[attr-defined]
        for member in shape.required_members:  # type: ignore[attr-defined]
            item.setdefault(member, self._value(member, shape.members[member]))  # type: ignore[attr-defined]
        return item


def _model(service: str) -> Any:
    session = botocore.session.get_session()
    add_models_to(session)
    return session.get_service_model(service)


def _environment() -> str:
    return json.dumps(
        {"specificationVersion": "environment-2023-09", "environment": {"name": "E", "variables": {"A": "1"}}}
    )


def _millis() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def _session_of(world: World) -> tuple[str, str]:
    sessions = world.worker.poll()["assignedSessions"]
    session_id, session = next(iter(sessions.items()))
    return session_id, session["sessionActions"][0]["sessionActionId"]


# --- what the table says, restated -------------------------------------------------------------------


def victim(params: dict[str, Any], service: str) -> str:
    """What the generated request names."""
    if service == "logs":
        return "queue-logs" if "logGroupName" in params else "account"
    if "workerId" in params:
        return "worker"
    if any(m in params for m in BATCH_MEMBERS):
        return "items"
    if "resourceArn" in params or "jobId" in params:
        return "job" if "jobId" in params else "queue"
    if ("queueId" in params or "queueIds" in params) and "fleetId" in params:
        return "association"
    if "queueId" in params or "queueIds" in params:
        return "queue"
    if "fleetId" in params or "fleetIds" in params:
        return "fleet"
    return "farm" if "farmId" in params else "account"


def may_call(who: str, rule: Rule, named: str) -> bool:
    if who == "admin" or rule.anyone or named == "items":
        return True
    if who in RANK or who == "none":
        if rule.lists:
            return True
        return rule.level is not None and RANK.get(who, 0) >= RANK[rule.level]
    if rule.lists and named == "account":
        return True
    if who == "queue-read":
        return rule.queue is QueueUse.READ and named in QUEUE_SIDE
    if who == "fleet-read":
        return rule.fleet_read and named in FLEET_SIDE
    return False  # another queue's credentials, another fleet's worker: nothing of Q or FL


def may_see_item(who: str, rule: Rule) -> bool:
    """A batch item naming Q/J (or W of FL, for workers' batches)."""
    if who == "admin":
        return True
    if who in RANK:
        return rule.level is not None and RANK[who] >= RANK[rule.level]
    if who == "queue-read":
        return rule.queue is QueueUse.READ
    if who == "fleet-read":
        return rule.fleet_read
    return False


# --- the store, before and after ----------------------------------------------------------------------


def store_digest(server: ServerProcess) -> dict[str, str]:
    """A digest of every table's rows, except the audit trail (which records the denied calls)."""
    db = sqlite3.connect(f"file:{Path(server.data_dir) / 'farmhand.db'}?mode=ro", uri=True)
    try:
        digests = {}
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table' order by name")]
        for table in tables:
            rows = db.execute(f'select * from "{table}"').fetchall()
            if table.startswith("log_"):
                columns = [c[1] for c in db.execute(f'pragma table_info("{table}")')]
                group = columns.index("log_group_name")
                rows = [r for r in rows if not str(r[group]).startswith("/farmhand/audit")]
            digests[table] = hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()
        return digests
    finally:
        db.close()


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


def _operations() -> list[tuple[str, str]]:
    served = sorted(load_handlers())
    # The admin's deletions run last, the farm's last of all, so the rest still has its resources.
    return sorted(served, key=lambda k: (k[1].startswith("Delete"), k[1] == "DeleteFarm", k))


def _call(world: World, who: str, service: str, name: str, params: dict[str, Any]) -> tuple[str | None, Any]:
    client = world.client(who, service)
    try:
        return None, getattr(client, xform_name(name))(**params)
    except ClientError as error:
        return str(error.response["Error"]["Code"]), None


def test_every_operation_for_every_caller_follows_the_table(
    world: World, matrix_server: ServerProcess
) -> None:
    requests = Requests(world)
    problems: list[str] = []
    checked = 0
    for who in CALLERS:
        for service, name in _operations():
            if service == "sts":
                continue
            rule = rule_for(service, name)
            params = requests.params(service, name)
            named = victim(params, service)
            allowed = may_call(who, rule, named)
            before = store_digest(matrix_server) if not allowed or named == "items" else {}
            code, answer = _call(world, who, service, name, params)
            checked += 1
            if allowed and code == "AccessDeniedException":
                problems.append(f"{who} {name}: denied, the table allows it")
            if not allowed:
                if code != "AccessDeniedException":
                    problems.append(f"{who} {name}: answered {code or 'success'}, the table denies it")
                elif changed := changed_tables(before, store_digest(matrix_server)):
                    problems.append(f"{who} {name}: denied, but the store changed: {changed}")
            if named == "items" and code is None:
                denied = [e for e in answer.get("errors", []) if _code_of(e) == "AccessDeniedException"]
                if may_see_item(who, rule) and denied:
                    problems.append(f"{who} {name}: item denied, the table allows it")
                if not may_see_item(who, rule):
                    if not denied:
                        problems.append(f"{who} {name}: item answered, the table denies it")
                    # The call itself succeeded: its answer (listing the denied items) is kept for
                    # retries with the same client token; nothing else may change.
                    elif rule.items in ("jobs", "tasks") and (
                        changed := [
                            t
                            for t in changed_tables(before, store_digest(matrix_server))
                            if t != "idempotency_records"
                        ]
                    ):
                        problems.append(f"{who} {name}: item denied, but the store changed: {changed}")
    assert problems == [], "\n".join(problems)
    assert checked >= 10 * 100


def _code_of(error: dict[str, Any]) -> str | None:
    if "code" in error:
        return str(error["code"])
    inner = next(iter(error.values()), {})
    return str(inner.get("code")) if isinstance(inner, dict) else None


def test_every_caller_may_ask_who_it_is(world: World) -> None:
    for who in CALLERS:
        assert world.client(who, "sts").get_caller_identity()["Arn"]
