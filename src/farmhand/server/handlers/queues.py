"""Queues: where jobs are submitted, with their attachment settings, run-as user and storage profiles."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, exists, not_, or_, select

from ...statuses import ACTIVE_TASK_RUN_STATUSES, TERMINAL_TASK_RUN_STATUSES
from .._ids import new_id
from ..protocol import ConflictError, ResourceNotFoundError, ValidationError
from ..store import count_column, count_documents, find_document, jobs, resources
from ._common import (
    delete_resource,
    drop_tags,
    get_resource,
    insert_resource,
    list_resources,
    save_resource,
    save_tags,
    stamp_created,
    stamp_updated,
)
from ._registry import Call, Output, Params, operation
from .farms import require_farm

KIND = "queue"
DEFAULT_BUDGET_ACTION = "NONE"


_SCALARS = (
    "displayName",
    "description",
    "defaultBudgetAction",
    "jobAttachmentSettings",
    "roleArn",
    "jobRunAsUser",
    "schedulingConfiguration",
)


def queue_arn(call: Call, farm_id: str, queue_id: str) -> str:
    return call.arn(f"farm/{farm_id}/queue/{queue_id}")


def require_queue(conn: Connection, farm_id: str, queue_id: str) -> dict[str, Any]:
    """The queue's stored document, or ResourceNotFoundException (also when the farm differs)."""
    return get_resource(conn, KIND, queue_id, farm_id=farm_id, resource_type="queue")


# A job has schedulable tasks: read from the job row's counters, kept exact in the task transactions.
_JOB_HAS_SCHEDULABLE_TASKS = or_(*(jobs.c[count_column(status)] > 0 for status in ACTIVE_TASK_RUN_STATUSES))
_SCHEDULING_QUEUES = (
    select(jobs.c.queue_id)
    .where(and_(jobs.c.queue_id.in_(bindparam("queue_ids", expanding=True)), _JOB_HAS_SCHEDULABLE_TASKS))
    .distinct()
)


def _has_schedulable_work() -> ColumnElement[bool]:
    return exists().where(and_(jobs.c.queue_id == resources.c.resource_id, _JOB_HAS_SCHEDULABLE_TASKS))


def scheduling_queue_ids(conn: Connection, queue_ids: list[str]) -> set[str]:
    """Which of these queues have a job with ready or running tasks (one query for a whole page)."""
    if not queue_ids:
        return set()
    return {row[0] for row in conn.execute(_SCHEDULING_QUEUES, {"queue_ids": queue_ids})}


def queue_status(conn: Connection, queue_id: str) -> str:
    """SCHEDULING while any job of the queue has ready or running tasks, else IDLE."""
    return "SCHEDULING" if scheduling_queue_ids(conn, [queue_id]) else "IDLE"


def _view(conn: Connection, doc: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    doc["status"] = status or queue_status(conn, doc["queueId"])
    doc.setdefault("defaultBudgetAction", DEFAULT_BUDGET_ACTION)
    return doc


def _check_run_as_user(run_as: dict[str, Any] | None) -> None:
    if (
        run_as
        and run_as.get("runAs") == "QUEUE_CONFIGURED_USER"
        and not (run_as.get("posix") or run_as.get("windows"))
    ):
        raise ValidationError.for_field("jobRunAsUser", "QUEUE_CONFIGURED_USER needs a posix or windows user")


# botocore refuses any other bucket name client-side, so a queue naming one could never be used.
_BUCKET_NAME = re.compile(r"[a-zA-Z0-9._-]{1,255}")


def _check_attachment_settings(settings: dict[str, Any] | None) -> None:
    """Settings every S3 client can use: a bucket botocore accepts, a prefix of non-empty segments.

    Object keys are "<rootPrefix>/Data/...": a prefix with an empty segment (leading, trailing or
    double slash) would give keys an object store must refuse.
    """
    if not settings:
        return
    bucket, prefix = settings["s3BucketName"], settings["rootPrefix"]
    if not _BUCKET_NAME.fullmatch(bucket):
        raise ValidationError.for_field(
            "jobAttachmentSettings.s3BucketName", "may hold only letters, digits, '.', '-' and '_'"
        )
    if "" in prefix.split("/"):
        raise ValidationError.for_field(
            "jobAttachmentSettings.rootPrefix", "must not start or end with '/' or contain '//'"
        )


def _check_storage_profiles(call: Call, farm_id: str, ids: list[str]) -> None:
    for profile_id in ids:
        if find_document(call.conn, "storage-profile", profile_id, farm_id=farm_id) is None:
            raise ResourceNotFoundError(
                "storage-profile", profile_id, f"Storage profile {profile_id} does not exist in {farm_id}"
            )


def _merged(current: list[str], add: list[str] | None, remove: list[str] | None) -> list[str]:
    result = [item for item in current if item not in (remove or [])]
    result += [item for item in (add or []) if item not in result]
    return result


@operation("CreateQueue")
def create_queue(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    _check_run_as_user(params.get("jobRunAsUser"))
    _check_attachment_settings(params.get("jobAttachmentSettings"))
    _check_storage_profiles(call, farm_id, params.get("allowedStorageProfileIds", []))
    queue_id = new_id("queue")
    doc = stamp_created(
        call,
        {
            "farmId": farm_id,
            "queueId": queue_id,
            "defaultBudgetAction": params.get("defaultBudgetAction", DEFAULT_BUDGET_ACTION),
            "requiredFileSystemLocationNames": list(params.get("requiredFileSystemLocationNames", [])),
            "allowedStorageProfileIds": list(params.get("allowedStorageProfileIds", [])),
            **{member: params[member] for member in _SCALARS if member in params},
        },
    )
    insert_resource(call, KIND, queue_id, doc, farm_id=farm_id)
    save_tags(call, queue_arn(call, farm_id, queue_id), params.get("tags"))
    return {"queueId": queue_id}


@operation("GetQueue")
def get_queue(call: Call, params: Params) -> Output:
    return _view(call.conn, require_queue(call.conn, params["farmId"], params["queueId"]))


@operation("UpdateQueue")
def update_queue(call: Call, params: Params) -> Output:
    farm_id, queue_id = params["farmId"], params["queueId"]
    doc = require_queue(call.conn, farm_id, queue_id)
    _check_run_as_user(params.get("jobRunAsUser"))
    _check_attachment_settings(params.get("jobAttachmentSettings"))
    _check_storage_profiles(call, farm_id, params.get("allowedStorageProfileIdsToAdd", []))
    for member in _SCALARS:
        if member in params:
            doc[member] = params[member]
    doc["requiredFileSystemLocationNames"] = _merged(
        doc.get("requiredFileSystemLocationNames", []),
        params.get("requiredFileSystemLocationNamesToAdd"),
        params.get("requiredFileSystemLocationNamesToRemove"),
    )
    doc["allowedStorageProfileIds"] = _merged(
        doc.get("allowedStorageProfileIds", []),
        params.get("allowedStorageProfileIdsToAdd"),
        params.get("allowedStorageProfileIdsToRemove"),
    )
    save_resource(call, KIND, queue_id, stamp_updated(call, doc))
    return {}


@operation("DeleteQueue")
def delete_queue(call: Call, params: Params) -> Output:
    farm_id, queue_id = params["farmId"], params["queueId"]
    require_queue(call.conn, farm_id, queue_id)
    unfinished = call.conn.execute(
        select(jobs.c.job_id)
        .where(and_(jobs.c.queue_id == queue_id, jobs.c.task_run_status.not_in(TERMINAL_TASK_RUN_STATUSES)))
        .limit(1)
    ).first()
    if unfinished is not None:
        raise ConflictError(
            f"Queue {queue_id} still has unfinished jobs (e.g. {unfinished.job_id}); "
            "cancel them or wait for them to finish first",
            reason="RESOURCE_IN_USE",
            resource_type="queue",
            resource_id=queue_id,
        )
    if count_documents(call.conn, "queue-fleet-association", parent_id=queue_id):
        raise ConflictError(
            f"Queue {queue_id} is still associated with a fleet; delete its queue-fleet associations first",
            reason="RESOURCE_IN_USE",
            resource_type="queue",
            resource_id=queue_id,
        )
    environments = call.conn.execute(
        select(resources.c.resource_id).where(
            and_(resources.c.kind == "queue-environment", resources.c.parent_id == queue_id)
        )
    ).scalars()
    for environment_id in list(environments):
        delete_resource(call, "queue-environment", environment_id)
    delete_resource(call, KIND, queue_id)
    drop_tags(call, queue_arn(call, farm_id, queue_id))
    return {}


@operation("ListQueues")
def list_queues(call: Call, params: Params) -> Output:
    farm_id = params["farmId"]
    require_farm(call, farm_id)
    wanted = params.get("status")
    where: ColumnElement[bool] | None = None
    if wanted == "SCHEDULING":
        where = _has_schedulable_work()
    elif wanted == "IDLE":
        where = not_(_has_schedulable_work())
    elif wanted == "SCHEDULING_BLOCKED":
        return {"queues": []}  # farmhand has no budgets, so nothing is ever blocked by one
    queues, token = list_resources(
        call, KIND, params, farm_id=farm_id, created_by_id=params.get("principalId"), where=where
    )
    scheduling = scheduling_queue_ids(call.conn, [doc["queueId"] for doc in queues])
    for doc in queues:
        _view(call.conn, doc, "SCHEDULING" if doc["queueId"] in scheduling else "IDLE")
    return {"queues": queues, "nextToken": token}
