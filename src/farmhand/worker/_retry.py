"""Retrying worker calls on the faults the protocol calls transient, as the AWS worker agent does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

log = logging.getLogger("farmhand.worker")

T = TypeVar("T")

TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServerException", "ServiceUnavailableException"})
CONNECTION_ERRORS = (ConnectionError, EndpointConnectionError, ReadTimeoutError)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_transient(error: BaseException) -> bool:
    if isinstance(error, CONNECTION_ERRORS):
        return True
    return isinstance(error, ClientError) and error_code(error) in TRANSIENT_CODES


def retry_delay(error: BaseException, attempt: int, cap: float = 10.0) -> float:
    """Exponential backoff, never shorter than the server's Retry-After."""
    delay = min(cap, 0.25 * 2**attempt)
    if isinstance(error, ClientError):
        header = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
        if header and str(header).isdigit():
            delay = max(delay, float(header))
    return float(delay)


def call_with_retry(
    what: str,
    call: Callable[[], T],
    *,
    stop: threading.Event | None = None,
    also_retry: Callable[[BaseException], bool] | None = None,
    max_attempts: int | None = None,
) -> T:
    """Run `call`, retrying transient failures (and `also_retry` ones) until it succeeds or `stop` is set."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            retryable = is_transient(error) or (also_retry is not None and also_retry(error))
            attempt += 1
            if not retryable or (max_attempts is not None and attempt >= max_attempts):
                raise
            delay = retry_delay(error, attempt)
            log.warning("%s failed (%s); retrying in %.1fs", what, error, delay)
            if stop is not None and stop.wait(delay):
                raise
            if stop is None:
                threading.Event().wait(delay)
