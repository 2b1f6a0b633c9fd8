"""How the monitor's script calls each API operation, read from the same botocore models the server
parses requests with: a REST operation's method, URI template and where each member goes (label,
query string, header, else the JSON body), a JSON-RPC operation's `X-Amz-Target`. The script holds
no copy of the wire format, so its calls are the ones boto3 would make.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

from botocore.exceptions import UnknownServiceError
from botocore.model import ServiceModel

from ..._models import IDENTITY_SERVICE
from ..protocol import service_model

__all__ = ["operations_document"]

# The JSON-RPC services the monitor reads, by the name its script uses for them.
_JSON_SERVICES = {"logs": "logs", "identity": IDENTITY_SERVICE}
# What the farm's scheduler says about a job (`ExplainJob`), shown as the "why" of unfinished jobs
# when the farm's models include it.
_SCHEDULING = ("scheduling", "farmhand-scheduling")


def _rest_operations(model: ServiceModel) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name in model.operation_names:
        operation = model.operation_model(name)
        placed: dict[str, list[str]] = {}
        if operation.input_shape is not None:
            for member, shape in operation.input_shape.members.items():
                location = shape.serialization.get("location")
                if location in ("uri", "querystring", "header"):
                    placed[member] = [location, shape.serialization.get("name", member)]
        table[name] = {"method": operation.http["method"], "uri": operation.http["requestUri"], "in": placed}
    return table


def _json_operations(model: ServiceModel) -> dict[str, Any]:
    prefix = model.metadata["targetPrefix"]
    version = model.metadata.get("jsonVersion", "1.1")
    return {
        "contentType": f"application/x-amz-json-{version}",
        "targets": {name: f"{prefix}.{name}" for name in model.operation_names},
    }


@functools.cache
def operations_document() -> bytes:
    """The table as the JSON document the page loads once (the same for every user)."""
    document: dict[str, Any] = {"deadline": _rest_operations(service_model("deadline"))}
    for alias, name in _JSON_SERVICES.items():
        document[alias] = _json_operations(service_model(name))
    alias, name = _SCHEDULING
    with contextlib.suppress(UnknownServiceError):  # without it the page shows failed tasks only
        document[alias] = _json_operations(service_model(name))
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
