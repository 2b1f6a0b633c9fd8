"""rest-json requests in, rest-json responses out, for the Deadline Cloud API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel

from ._errors import CannotParseError, ServiceError
from ._json_body import decode_json_body
from ._shapes import coerce_text, serialize, validate


def parse_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Gather an operation's input members from the URI, query string, headers and JSON body."""
    shape: Any = operation.input_shape
    if shape is None:
        return {}
    raw: dict[str, Any] = {}
    if body.strip():
        decoded = decode_json_body(body)
        if not isinstance(decoded, dict):
            raise CannotParseError("The request body must be a JSON object")
        raw.update(decoded)
    query_values: dict[str, list[str]] = {}
    for key, value in query:
        query_values.setdefault(key, []).append(value)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                raw[name] = coerce_text(member, labels[wire_name], name)
        elif location == "querystring":
            values = query_values.get(wire_name)
            if values is None:
                continue
            if member.type_name == "list":
                raw[name] = [coerce_text(member.member, v, name) for v in values]
            else:
                raw[name] = coerce_text(member, values[-1], name)
        elif location == "header":
            header = headers.get(wire_name.lower())
            if header is not None:
                raw[name] = coerce_text(member, header, name)
        elif location is None:
            continue
    params: dict[str, Any] = validate(shape, raw)
    return params


def render_response(
    operation: OperationModel, output: Mapping[str, Any] | None
) -> tuple[dict[str, str], bytes]:
    """Headers and JSON body for a successful answer, both derived from the output shape."""
    shape = operation.output_shape
    headers: dict[str, str] = {}
    if shape is None:
        return headers, b"{}"
    output = output or {}
    for name, member in shape.members.items():
        if member.serialization.get("location") == "header" and output.get(name) is not None:
            headers[member.serialization.get("name", name)] = str(output[name])
    body = serialize(shape, output)
    return headers, json.dumps(body, separators=(",", ":")).encode()


def render_error(error: ServiceError) -> tuple[dict[str, str], bytes]:
    """AWS error shape: the code in `x-amzn-ErrorType`, `message` and the shape's members in the body."""
    headers = {"x-amzn-ErrorType": error.code, **error.headers}
    body = {"message": error.message, **error.fields}
    return headers, json.dumps(body, separators=(",", ":"), default=str).encode()
