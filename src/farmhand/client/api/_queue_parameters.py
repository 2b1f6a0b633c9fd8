"""Job parameters that a queue's environments define, in template form."""

from __future__ import annotations

import json
from configparser import ConfigParser
from typing import Any

import yaml

from ..exceptions import DeadlineOperationError
from ..job_bundle import parameter_definition_difference, validate_parameter_definition
from ._list_apis import call_paginated_list_api
from ._session import get_boto3_client
from ._telemetry import record_function_latency_telemetry_event

__all__ = ["get_queue_parameter_definitions"]

# A parameter without a userInterface gets the control a submitter shows for its type.
_DEFAULT_CONTROLS = {
    "STRING": "LINE_EDIT",
    "INT": "SPIN_BOX",
    "FLOAT": "SPIN_BOX",
}


@record_function_latency_telemetry_event()
def get_queue_parameter_definitions(
    *, region: str | None = None, farmId: str, queueId: str, config: ConfigParser | None = None
) -> list[dict[str, Any]]:
    """Parameter definitions of every environment of the queue, by environment priority.

    A name defined by two environments must be defined the same way; the first one is kept.
    `region` is the farm's (default: the configured one).
    """
    deadline = get_boto3_client("deadline", config, region)
    summaries = call_paginated_list_api(
        deadline.list_queue_environments, "environments", farmId=farmId, queueId=queueId
    )["environments"]
    environments = [
        deadline.get_queue_environment(
            farmId=farmId, queueId=queueId, queueEnvironmentId=s["queueEnvironmentId"]
        )
        for s in summaries
    ]
    environments.sort(key=lambda environment: environment["priority"])
    definitions: dict[str, dict[str, Any]] = {}
    for environment in environments:
        text = environment["template"]
        try:
            template = json.loads(text) if environment.get("templateType") == "JSON" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as error:
            raise DeadlineOperationError(
                f"Queue environment {environment['name']!r} has a template that does not parse: {error}"
            ) from error
        uses_expr = "EXPR" in (template.get("extensions") or [])
        for raw in template.get("parameterDefinitions") or []:
            definition = dict(raw)
            if uses_expr and isinstance(definition.get("type"), str):
                definition["type"] = definition["type"].upper()
            validate_parameter_definition(definition, default_required=True)
            interface = definition.get("userInterface")
            if not interface or "groupLabel" not in interface:
                had_interface = bool(interface)
                interface = dict(interface or {})
                interface["groupLabel"] = f"Queue Environment: {environment['name']}"
                if not had_interface and definition["type"] in _DEFAULT_CONTROLS:
                    interface["control"] = _DEFAULT_CONTROLS[definition["type"]]
                definition["userInterface"] = interface
            name = definition["name"]
            existing = definitions.get(name)
            if existing is None:
                definitions[name] = definition
                continue
            differences = parameter_definition_difference(existing, definition)
            if differences:
                raise DeadlineOperationError(
                    f"Job template parameter {name} is duplicated across queue environments with "
                    f"mismatched fields: {differences}"
                )
    return list(definitions.values())
