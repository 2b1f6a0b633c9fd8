"""Retrying worker calls on transient faults, forever, and logging each outage of the farm once.

Transient: the farm cannot be reached or dropped the connection (botocore's connection errors,
`ConnectionClosedError`, read timeouts), answered 5xx, or throttled (429 and the throttling codes
of the protocol). A worker on another host must survive a farm restart, however long it takes, so
these are retried with capped exponential backoff and jitter until they succeed or the agent stops.
The first failure of an outage is logged, and the first success after it; nothing in between.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

log = logging.getLogger("farmhand.worker")

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "ServiceUnavailableException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
# EndpointConnectionError and ConnectTimeoutError are ConnectionErrors; ConnectionClosedError and
# ReadTimeoutError are HTTPClientErrors.
CONNECTION_ERRORS = (ConnectionError, HTTPClientError)
RETRY_CAP_SECONDS = 10.0


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _http_status(error: ClientError) -> int:
    try:
        return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def is_transient(error: BaseException) -> bool:
    if isinstance(error, CONNECTION_ERRORS):
        return True
    if not isinstance(error, ClientError):
        return False
    status = _http_status(error)
    # 501 is an operation the farm does not serve: asking again will not help.
    return error_code(error) in TRANSIENT_CODES or (status >= 500 and status != 501) or status == 429


def retry_delay(error: BaseException, attempt: int, cap: float = RETRY_CAP_SECONDS) -> float:
    """Exponential backoff with jitter (half to all of the step), capped; never shorter than Retry-After."""
    step = min(cap, 0.25 * 2 ** min(attempt, 16))
    delay = random.uniform(step / 2, step)
    if isinstance(error, ClientError):
        header = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
        if header and str(header).isdigit():
            delay = max(delay, float(header))
    return float(delay)


class FarmOutage:
    """Whether the farm is failing this worker's calls right now, so an outage is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        with self._lock:
            return self._since is not None

    def failed(self, what: str, error: BaseException) -> None:
        """A call failed transiently: the first failure of an outage is logged."""
        with self._lock:
            first = self._since is None
            if first:
                self._since = time.monotonic()
        if first:
            log.warning("the farm did not answer %s (%s); retrying until it does", what, error)

    def recovered(self) -> None:
        """A call succeeded: an outage, if there was one, is over."""
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.info("the farm answers again, after %.0f s", time.monotonic() - since)


#: The farm as this worker process sees it (one farm per agent).
FARM_OUTAGE = FarmOutage()


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
            answer = call()
        except Exception as error:
            transient = is_transient(error)
            retryable = transient or (also_retry is not None and also_retry(error))
            attempt += 1
            if not retryable or (max_attempts is not None and attempt >= max_attempts):
                raise
            delay = retry_delay(error, attempt)
            if transient:
                FARM_OUTAGE.failed(what, error)
            else:
                log.info("%s: %s; retrying in %.1f s", what, error, delay)
            if (stop if stop is not None else threading.Event()).wait(delay):
                raise
            continue
        FARM_OUTAGE.recovered()
        return answer
