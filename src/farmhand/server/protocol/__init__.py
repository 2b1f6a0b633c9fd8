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
from ._model import DEADLINE_API_VERSION, Route, RouteTable, deadline_routes, service_model, success_status
from ._rest_json import parse_request, render_error, render_response
from ._shapes import MissingMemberError, format_timestamp, serialize, validate
from ._sigv4 import SignedRequest, SigningKey, VerifiedCaller, credential_scope_service, verify

__all__ = [
    "DEADLINE_API_VERSION",
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
    "credential_scope_service",
    "deadline_routes",
    "format_timestamp",
    "parse_request",
    "render_error",
    "render_response",
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
