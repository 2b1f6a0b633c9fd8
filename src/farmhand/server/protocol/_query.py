"""The awsQuery protocol (STS): form-encoded `Action=...` requests, XML answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel

from ._errors import ServiceError, UnknownOperationError
from ._shapes import format_timestamp, validate


def parse_query_request(
    model: ServiceModel, query: list[tuple[str, str]], body: bytes
) -> tuple[OperationModel, dict[str, Any]]:
    fields = dict(query)
    fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    action = fields.pop("Action", "")
    fields.pop("Version", None)
    if action not in model.operation_names:
        raise UnknownOperationError(f"Could not find operation {action!r}")
    operation = model.operation_model(action)
    shape = operation.input_shape
    params: dict[str, Any] = validate(shape, fields) if shape is not None else {}
    return operation, params


def _xml(shape: Any, value: Any) -> str:
    if shape.type_name == "structure":
        parts = []
        for name, member in shape.members.items():
            if value.get(name) is not None:
                parts.append(f"<{name}>{_xml(member, value[name])}</{name}>")
        return "".join(parts)
    if shape.type_name == "list":
        return "".join(f"<member>{_xml(shape.member, item)}</member>" for item in value)
    if shape.type_name == "timestamp":
        return format_timestamp(value)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def render_query_response(
    model: ServiceModel, operation: OperationModel, output: Mapping[str, Any], request_id: str
) -> bytes:
    namespace = model.metadata.get("xmlNamespace", "")
    name = operation.name
    result = _xml(operation.output_shape, output) if operation.output_shape is not None else ""
    return (
        f'<{name}Response xmlns="{namespace}"><{name}Result>{result}</{name}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>"
    ).encode()


# STS (awsQuery) spells the authentication errors its own way.
_QUERY_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
}


def render_query_error(error: ServiceError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    kind = "Sender" if error.status < 500 else "Receiver"
    code = _QUERY_CODES.get(error.code, error.code)
    body = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return error.status, {"Content-Type": "text/xml", **error.headers}, body.encode()
