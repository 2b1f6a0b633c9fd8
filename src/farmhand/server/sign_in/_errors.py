"""Sign-in errors, with the codes OAuth device and token endpoints use (as AWS SSO OIDC spells them)."""

from __future__ import annotations

from ..protocol import ServiceError

__all__ = ["AuthorizationPendingError", "InvalidGrantError", "SlowDownError"]


class InvalidGrantError(ServiceError):
    """A wrong password, or a refresh token or device code that is unknown, revoked or tampered with."""

    code = "InvalidGrantException"
    status = 400


class AuthorizationPendingError(ServiceError):
    """The device code has not been approved yet: poll again after the interval."""

    code = "AuthorizationPendingException"
    status = 400


class SlowDownError(ServiceError):
    """The device code was polled faster than its interval."""

    code = "SlowDownException"
    status = 400
