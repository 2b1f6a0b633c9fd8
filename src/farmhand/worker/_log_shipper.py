"""Shipping a log stream to the farm with PutLogEvents: batched, and buffered while the farm is away.

Lines are kept in memory until a PutLogEvents call that carried them succeeds, so a server restart
or a network blip delays lines but does not lose them. The limits are CloudWatch's: ≤ 10,000 events
and ≤ 1,048,576 bytes (26 bytes of overhead per event) per call, events ≤ 256,000 bytes, one call
spanning ≤ 24 hours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._private_files import open_private_log
from ._retry import FARM_OUTAGE, is_transient, retry_delay

log = logging.getLogger("farmhand.worker.logs")

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 256_000
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
DEFAULT_MAX_BUFFERED_EVENTS = 1_000_000


# How long a closing stream waits for its last lines to reach the farm before leaving them to be
# delivered in the background: less while the farm is away, so that a stop is not held up by it.
DELIVERY_GRACE_SECONDS = 10.0
DELIVERY_GRACE_IN_OUTAGE_SECONDS = 1.0


def delivery_grace() -> float:
    return DELIVERY_GRACE_IN_OUTAGE_SECONDS if FARM_OUTAGE.ongoing else DELIVERY_GRACE_SECONDS


def now_ms() -> int:
    return int(time.time() * 1000)


def split_message(message: str) -> list[str]:
    """A message as one or more events no larger than CloudWatch accepts; empty becomes one space."""
    if not message:
        return [" "]
    encoded = message.encode("utf-8")
    if len(encoded) <= MAX_EVENT_BYTES:
        return [message]
    parts: list[str] = []
    while encoded:
        piece = encoded[:MAX_EVENT_BYTES]
        text = piece.decode("utf-8", errors="ignore")  # never split inside a character
        parts.append(text)
        encoded = encoded[len(text.encode("utf-8")) :]
    return parts


class LogShipper:
    """One log stream: `write` from any thread; a background thread sends batches."""

    def __init__(
        self,
        client: Callable[[], Any],
        group: str,
        stream: str,
        *,
        flush_seconds: float = 1.0,
        local_copy: Path | None = None,
        max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS,
    ) -> None:
        self._client = client
        self.group = group
        self.stream = stream
        self._flush_seconds = flush_seconds
        self._buffer: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._max_buffered = max_buffered_events
        self.dropped = 0
        self.sent = 0
        # Private (it may show what the job printed) and line-buffered: the local copy is complete
        # up to the last line even if the worker dies.
        self._local = open_private_log(local_copy) if local_copy else None
        self._thread = threading.Thread(target=self._run, name=f"logs-{stream}", daemon=True)
        self._thread.start()

    def write(self, message: str, timestamp_ms: int | None = None) -> None:
        stamp = now_ms() if timestamp_ms is None else timestamp_ms
        with self._lock:
            if self._local is not None:
                self._local.write(message if message.endswith("\n") else message + "\n")
            for part in split_message(message.rstrip("\n")):
                if len(self._buffer) >= self._max_buffered:
                    self._buffer.popleft()
                    self.dropped += 1
                self._buffer.append((stamp, part))
            self._idle.clear()
            if len(self._buffer) >= MAX_BATCH_EVENTS:
                self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is buffered now; True when everything written so far reached the farm."""
        self._wake.set()
        return self._idle.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking lines; what is not delivered within `timeout` keeps being sent in the background
        until it is (see `deliver_outstanding`), so a session ending during an outage loses nothing."""
        delivered = self.flush(timeout)
        with self._lock:
            if self._local is not None:
                self._local.close()
                self._local = None
        if delivered:
            self._stop_thread()
        else:
            with _OUTSTANDING_LOCK:
                _OUTSTANDING.add(self)
            log.warning("log stream %s: %d events still to deliver", self.stream, self.pending)
        return delivered

    def abandon(self) -> None:
        """Stop sending, whatever is left (the agent is exiting)."""
        self._stop_thread()

    def _stop_thread(self) -> None:
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout=1.0)
        with _OUTSTANDING_LOCK:
            _OUTSTANDING.discard(self)

    def _take_batch(self) -> list[tuple[int, str]]:
        with self._lock:
            if self._local is not None:
                self._local.flush()
            batch: list[tuple[int, str]] = []
            size = 0
            low = high = 0
            for stamp, message in self._buffer:
                cost = len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES
                if batch and (
                    len(batch) >= MAX_BATCH_EVENTS
                    or size + cost > MAX_BATCH_BYTES
                    or max(high, stamp) - min(low, stamp) > MAX_BATCH_SPAN_MS
                ):
                    break
                low, high = (stamp, stamp) if not batch else (min(low, stamp), max(high, stamp))
                batch.append((stamp, message))
                size += cost
            return batch

    def _drop_sent(self, count: int) -> None:
        with self._lock:
            for _ in range(count):
                self._buffer.popleft()
            self.sent += count
            if not self._buffer:
                self._idle.set()

    def _run(self) -> None:
        failures = 0
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            while True:
                batch = self._take_batch()
                if not batch:
                    self._idle.set()
                    break
                try:
                    self._client().put_log_events(
                        logGroupName=self.group,
                        logStreamName=self.stream,
                        logEvents=[
                            {"timestamp": stamp, "message": message}
                            for stamp, message in sorted(batch, key=lambda event: event[0])
                        ],
                    )
                except Exception as error:
                    failures += 1
                    delay = retry_delay(error, failures, cap=5.0)
                    if is_transient(error):
                        FARM_OUTAGE.failed("PutLogEvents", error)  # lines stay buffered meanwhile
                    elif failures in (1, 10) or failures % 100 == 0:
                        log.warning(
                            "log stream %s: %d events buffered, PutLogEvents failed (%s)",
                            self.stream,
                            self.pending,
                            error,
                        )
                    if self._closing.wait(delay):
                        return
                    continue
                failures = 0
                FARM_OUTAGE.recovered()
                self._drop_sent(len(batch))
                if self.pending == 0 and self in _OUTSTANDING:
                    with _OUTSTANDING_LOCK:
                        _OUTSTANDING.discard(self)
                    return
            if self._closing.is_set():
                return


_OUTSTANDING: set[LogShipper] = set()
_OUTSTANDING_LOCK = threading.Lock()


def deliver_outstanding(timeout: float) -> int:
    """Give closed streams with undelivered events up to `timeout` seconds; returns events given up."""
    deadline = time.monotonic() + timeout
    with _OUTSTANDING_LOCK:
        shippers = list(_OUTSTANDING)
    lost = 0
    for shipper in shippers:
        if not shipper.flush(max(0.0, deadline - time.monotonic())):
            lost += shipper.pending
            shipper.abandon()
    return lost


class ShippingHandler(logging.Handler):
    """A logging handler writing formatted records to a LogShipper (optionally only one session's)."""

    def __init__(self, shipper: LogShipper, *, session_id: str | None = None) -> None:
        super().__init__()
        self.shipper = shipper
        self.session_id = session_id

    def filter(self, record: logging.LogRecord) -> bool:
        if self.session_id is not None and getattr(record, "session_id", None) != self.session_id:
            return False
        if record.name.startswith("farmhand.worker.logs"):
            return False  # the shipper's own complaints would feed back into the stream they are about
        return super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.shipper.write(self.format(record), int(record.created * 1000))
        except Exception:
            self.handleError(record)
