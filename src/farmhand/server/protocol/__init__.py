"""The wire layer: requests parsed, validated and answered as botocore's service models describe.

Handlers raise the domain errors below; the layer renders them as AWS error responses.
"""

from ._errors import (
    AccessDeniedError,
    CannotParseError,
    ConflictError,
    ExpiredTokenError,
    FieldProblem,
    IncompleteSignatureError,
    InternalServerError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    NotImplementedOperationError,
    PayloadTooLargeError,
    ResourceNotFoundError,
    ServiceError,
    ServiceQuotaExceededError,
    ThrottlingError,
    UnknownOperationError,
    UnrecognizedClientError,
    ValidationError,
)
from ._json_body import MAX_JSON_DEPTH, check_json_value, decode_json_body
from ._model import DEADLINE_API_VERSION, Route, RouteTable, deadline_routes, service_model, success_status
from ._rest_json import parse_request, render_error, render_response
from ._shapes import MissingMemberError, format_timestamp, serialize, validate
from ._sigv4 import (
    UNSIGNED_PAYLOAD,
    PayloadCheck,
    SignedRequest,
    SigningKey,
    VerifiedCaller,
    credential_scope_service,
    payload_checked_by_endpoint,
    require_signed_payload,
    verify,
)

__all__ = [
    "DEADLINE_API_VERSION",
    "MAX_JSON_DEPTH",
    "UNSIGNED_PAYLOAD",
    "AccessDeniedError",
    "CannotParseError",
    "ConflictError",
    "ExpiredTokenError",
    "FieldProblem",
    "IncompleteSignatureError",
    "InternalServerError",
    "InvalidSignatureError",
    "MissingAuthenticationTokenError",
    "MissingMemberError",
    "NotImplementedOperationError",
    "PayloadCheck",
    "PayloadTooLargeError",
    "ResourceNotFoundError",
    "Route",
    "RouteTable",
    "ServiceError",
    "ServiceQuotaExceededError",
    "SignedRequest",
    "SigningKey",
    "ThrottlingError",
    "UnknownOperationError",
    "UnrecognizedClientError",
    "ValidationError",
    "VerifiedCaller",
    "check_json_value",
    "credential_scope_service",
    "deadline_routes",
    "decode_json_body",
    "format_timestamp",
    "parse_request",
    "payload_checked_by_endpoint",
    "render_error",
    "render_response",
    "require_signed_payload",
    "serialize",
    "service_model",
    "success_status",
    "validate",
    "verify",
]

from ._json_rpc import (
    error_status,
    parse_json_request,
    render_json_error,
    render_json_response,
    resolve_target,
)
from ._query import parse_query_request, render_query_error, render_query_response

__all__ += [
    "error_status",
    "parse_json_request",
    "parse_query_request",
    "render_json_error",
    "render_json_response",
    "render_query_error",
    "render_query_response",
    "resolve_target",
]
