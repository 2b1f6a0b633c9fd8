"""The farm's database failing under a call is a fault the caller retries, never a 500.

A store that is busy (SQLite locked by another writer, a PostgreSQL transaction losing a
serialisation race or a deadlock, a lock not granted in time) answers every service's
`ThrottlingException`. A store that is away (PostgreSQL restarting or unreachable) or has no
connection to spare (the pool is exhausted) answers the code each service's clients retry on an
outage: Deadline `ThrottlingException` (the one the AWS worker agent retries), Logs
`ServiceUnavailableException` and STS `ServiceUnavailable` (503), the identity service's
`ThrottlingException`. All with a Retry-After. Nothing was committed, and the server recovers by
itself: pooled connections are checked before use and replaced once the database is back.
"""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .protocol import ServiceError, ThrottlingError

log = logging.getLogger("farmhand.server")

RETRY_AFTER_SECONDS = 2
# PostgreSQL's codes for a transaction that lost to another: serialization failure, deadlock
# detected, lock not available, statement timed out.
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})


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


def is_busy(error: BaseException) -> bool:
    """The database answered, but this transaction lost to another (locked, serialisation, deadlock)."""
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, sqlite3.OperationalError):
        text = str(cause).lower()
        return "locked" in text or "busy" in text
    return getattr(cause, "sqlstate", None) in BUSY_SQLSTATES


def store_unavailable(service: str, error: BaseException) -> ServiceError:
    """The error to answer in `service`'s terms for a store fault."""
    log.warning("the farm's database failed a %s call: %s", service, str(error).splitlines()[0][:300])
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_busy(error):
        return ThrottlingError(
            "The farm's store is busy; retry shortly", retry_after_seconds=RETRY_AFTER_SECONDS
        )
    message = "The farm's database is unavailable; retry shortly"
    if service == "logs":
        return ServiceError(message, code="ServiceUnavailableException", status=503, headers=headers)
    if service == "sts":
        return ServiceError(message, code="ServiceUnavailable", status=503, headers=headers)
    return ThrottlingError(message, retry_after_seconds=RETRY_AFTER_SECONDS)
