"""Queue environments: OpenJD environment templates every job of a queue runs inside."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from openjd.model import DecodeValidationError, decode_environment_template
from sqlalchemy import Connection, and_, select

from .._ids import new_id
from ..protocol import ValidationError
from ..store import resources
from ._common import (
    decode_token,
    delete_resource,
    encode_token,
    get_resource,
    insert_resource,
    save_resource,
    stamp_created,
    stamp_updated,
)
from ._registry import Call, Output, Params, operation
from .queues import require_queue

KIND = "queue-environment"


def environment_name(template_text: str, template_type: str) -> str:
    """Validate an OpenJD environment template and return its `environment.name`."""
    try:
        loaded = json.loads(template_text) if template_type == "JSON" else yaml.safe_load(template_text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError.for_field("template", f"is not valid {template_type}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ValidationError.for_field("template", "must be an OpenJD environment template object")
    try:
        decoded = decode_environment_template(template=loaded)
    except DecodeValidationError as exc:
        raise ValidationError.for_field(
            "template", f"is not a valid OpenJD environment template: {exc}"
        ) from exc
    return str(decoded.environment.name)


def _require(call: Call, params: Params) -> dict[str, Any]:
    require_queue(call.conn, params["farmId"], params["queueId"])
    return get_resource(
        call.conn,
        KIND,
        params["queueEnvironmentId"],
        parent_id=params["queueId"],
        resource_type="queue-environment",
    )


@dataclass(frozen=True)
class QueueEnvironmentEntry:
    doc: dict[str, Any]
    #: [priority, created at (epoch seconds), id]: the entry order, and what a page token holds.
    sort_key: list[Any]


def ordered_environments(conn: Connection, queue_id: str) -> list[QueueEnvironmentEntry]:
    """A queue's environments in entry order: lower priority value first, then the older one, then by id.

    The one order for both ListQueueEnvironments and the environments a new job enters; a queue
    holds few environments, so they are sorted in memory.
    """
    rows = conn.execute(
        select(resources.c.doc, resources.c.created_at, resources.c.resource_id).where(
            and_(resources.c.kind == KIND, resources.c.parent_id == queue_id)
        )
    )
    entries = [
        QueueEnvironmentEntry(
            dict(row.doc), [row.doc["priority"], row.created_at.timestamp(), row.resource_id]
        )
        for row in rows
    ]
    return sorted(entries, key=lambda entry: entry.sort_key)


@operation("CreateQueueEnvironment")
def create_queue_environment(call: Call, params: Params) -> Output:
    farm_id, queue_id = params["farmId"], params["queueId"]
    require_queue(call.conn, farm_id, queue_id)
    name = environment_name(params["template"], params["templateType"])
    environment_id = new_id("queueenv")
    doc = stamp_created(
        call,
        {
            "queueEnvironmentId": environment_id,
            "name": name,
            "priority": params["priority"],
            "templateType": params["templateType"],
            "template": params["template"],
        },
    )
    insert_resource(call, KIND, environment_id, doc, farm_id=farm_id, parent_id=queue_id)
    return {"queueEnvironmentId": environment_id}


@operation("GetQueueEnvironment")
def get_queue_environment(call: Call, params: Params) -> Output:
    return _require(call, params)


@operation("UpdateQueueEnvironment")
def update_queue_environment(call: Call, params: Params) -> Output:
    doc = _require(call, params)
    if "priority" in params:
        doc["priority"] = params["priority"]
    if "template" in params or "templateType" in params:
        template = params.get("template", doc["template"])
        template_type = params.get("templateType", doc["templateType"])
        doc.update(
            template=template, templateType=template_type, name=environment_name(template, template_type)
        )
    save_resource(call, KIND, params["queueEnvironmentId"], stamp_updated(call, doc))
    return {}


@operation("DeleteQueueEnvironment")
def delete_queue_environment(call: Call, params: Params) -> Output:
    _require(call, params)
    delete_resource(call, KIND, params["queueEnvironmentId"])
    return {}


@operation("ListQueueEnvironments")
def list_queue_environments(call: Call, params: Params) -> Output:
    """In entry order (`ordered_environments`)."""
    require_queue(call.conn, params["farmId"], params["queueId"])
    ordered = ordered_environments(call.conn, params["queueId"])
    if params.get("nextToken"):
        after = decode_token(call.conn, "ListQueueEnvironments", params["nextToken"], 3)
        ordered = [entry for entry in ordered if entry.sort_key > after]
    size = int(params.get("maxResults") or 100)
    page, rest = ordered[:size], ordered[size:]
    token = encode_token(call.conn, "ListQueueEnvironments", page[-1].sort_key) if rest else None
    return {"environments": [entry.doc for entry in page], "nextToken": token}
