"""The awsJson1.1 protocol (CloudWatch Logs): `X-Amz-Target: <Prefix>.<Operation>`, JSON in and out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from ._errors import CannotParseError, ServiceError, UnknownOperationError
from ._json_body import decode_json_body
from ._shapes import serialize, validate


def resolve_target(model: ServiceModel, target: str) -> OperationModel:
    prefix = model.metadata.get("targetPrefix", "")
    name = target[len(prefix) + 1 :] if target.startswith(prefix + ".") else ""
    if name not in model.operation_names:
        raise UnknownOperationError(f"Unknown operation {target!r}")
    return model.operation_model(name)


def parse_json_request(operation: OperationModel, body: bytes) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    try:
        decoded = decode_json_body(body) if body.strip() else {}
    except CannotParseError as error:
        # awsJson services answer a body they cannot read with SerializationException.
        raise ServiceError(error.message, code="SerializationException", status=400) from None
    if not isinstance(decoded, dict):
        raise ServiceError(
            "The request body must be a JSON object", code="SerializationException", status=400
        )
    params: dict[str, Any] = validate(shape, decoded)
    return params


def render_json_response(operation: OperationModel, output: Mapping[str, Any] | None) -> bytes:
    shape = operation.output_shape
    if shape is None:
        return b"{}"
    return json.dumps(serialize(shape, output or {}, epoch_timestamps=True), separators=(",", ":")).encode()


def error_status(model: ServiceModel, error: ServiceError) -> int:
    """The HTTP status the model gives this error shape (JSON services answer most errors with 400)."""
    if error.code in model.shape_names:
        shape = model.shape_for(error.code)
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status:
            return int(status)
        if shape.metadata.get("exception"):
            return 400 if error.status < 500 else error.status
    return error.status


def render_json_error(model: ServiceModel, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-amzn-ErrorType": error.code, **error.headers}
    body = {"__type": error.code, "message": error.message, **error.fields}
    return error_status(model, error), headers, json.dumps(body, default=str).encode()
