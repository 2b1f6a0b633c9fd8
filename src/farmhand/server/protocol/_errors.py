"""Service errors in the shapes of the AWS models, so botocore raises the same ClientError codes."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error answered to the client: `code` goes to `x-amzn-ErrorType`, `fields` into the body."""

    code: str = "InternalServerException"
    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})
        self.fields = {k: v for k, v in fields.items() if v is not None}


class FieldProblem:
    """One entry of a ValidationException's `fieldList`."""

    __slots__ = ("message", "name")

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "message": self.message}


class ValidationError(ServiceError):
    code = "ValidationException"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        reason: str = "FIELD_VALIDATION_FAILED",
        fields: list[FieldProblem] | None = None,
        context: dict[str, str] | None = None,
    ) -> None:
        field_list = [f.as_dict() for f in fields] if fields else None
        super().__init__(message, reason=reason, fieldList=field_list, context=context)

    @classmethod
    def for_field(cls, name: str, problem: str) -> ValidationError:
        """A single-field validation failure whose message names the field."""
        return cls(f"{name}: {problem}", fields=[FieldProblem(name, problem)])


class CannotParseError(ValidationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, reason="CANNOT_PARSE")


class ResourceNotFoundError(ServiceError):
    code = "ResourceNotFoundException"
    status = 404

    def __init__(self, resource_type: str, resource_id: str, message: str | None = None) -> None:
        super().__init__(
            message or f"{resource_type} {resource_id} does not exist",
            resourceType=resource_type,
            resourceId=resource_id,
        )


class ConflictError(ServiceError):
    code = "ConflictException"
    status = 409

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        resource_type: str,
        resource_id: str,
        context: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            message, reason=reason, resourceType=resource_type, resourceId=resource_id, context=context
        )


class AccessDeniedError(ServiceError):
    code = "AccessDeniedException"
    status = 403


class ThrottlingError(ServiceError):
    """Transient trouble: the one code every caller (the AWS worker agent included) retries."""

    code = "ThrottlingException"
    status = 429

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(int(retry_after_seconds))})


class InternalServerError(ServiceError):
    code = "InternalServerException"
    status = 500


class ServiceQuotaExceededError(ServiceError):
    code = "ServiceQuotaExceededException"
    status = 402

    def __init__(self, message: str, *, resource_type: str, quota_code: str) -> None:
        super().__init__(
            message,
            reason="SERVICE_QUOTA_EXCEEDED_EXCEPTION",
            resourceType=resource_type,
            serviceCode="deadline",
            quotaCode=quota_code,
        )


class NotImplementedOperationError(ServiceError):
    """An operation of the model that this server does not implement: answered, never faked."""

    code = "NotImplementedException"
    status = 501


class PayloadTooLargeError(ServiceError):
    code = "RequestEntityTooLargeException"
    status = 413


class UnknownOperationError(ServiceError):
    code = "UnknownOperationException"
    status = 404


# Authentication failures, with the codes AWS answers.
class MissingAuthenticationTokenError(ServiceError):
    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClientError(ServiceError):
    code = "UnrecognizedClientException"
    status = 403


class InvalidSignatureError(ServiceError):
    code = "InvalidSignatureException"
    status = 403


class ExpiredTokenError(ServiceError):
    code = "ExpiredTokenException"
    status = 403


class IncompleteSignatureError(ServiceError):
    code = "IncompleteSignatureException"
    status = 403
