"""The farm's database failing under a call is a fault the caller retries, never a 500.

While PostgreSQL restarts, is unreachable, or has no connection to spare (the pool is exhausted),
and while SQLite is locked or a transaction loses a serialisation race, a call is answered with the
code its service's clients retry, and a Retry-After: Deadline `ThrottlingException` (the one the AWS
worker agent retries), Logs `ServiceUnavailableException`, STS `ServiceUnavailable`, and the
identity service's `ThrottlingException`. Nothing was committed, and the server recovers by itself:
pooled connections are checked before use and replaced once the database is back.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .protocol import ServiceError, ThrottlingError

log = logging.getLogger("farmhand.server")

RETRY_AFTER_SECONDS = 2


def is_store_fault(error: BaseException) -> bool:
    """The database is away, busy or out of connections (not a bug in the call)."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def store_unavailable(service: str, error: BaseException) -> ServiceError:
    """The error to answer in `service`'s terms for a store fault."""
    log.warning("the farm's database failed a %s call: %s", service, str(error).splitlines()[0][:300])
    message = "The farm's database is unavailable or busy; retry shortly"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if service == "logs":
        return ServiceError(message, code="ServiceUnavailableException", status=503, headers=headers)
    if service == "sts":
        return ServiceError(message, code="ServiceUnavailable", status=503, headers=headers)
    return ThrottlingError(message, retry_after_seconds=RETRY_AFTER_SECONDS)
