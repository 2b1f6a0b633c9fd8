"""Telemetry intake: the one unsigned route, so everything about it is bounded.

Any process that reaches the port can post events without credentials. Each event is limited in
size, each source address in rate (a token bucket), and what is kept in age and in total bytes,
so no sender can fill the disk: the oldest events go first.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select

from .protocol import CannotParseError, decode_json_body
from .store import Store, telemetry_events, utcnow

log = logging.getLogger("farmhand.server")

__all__ = ["TelemetryIntake", "TelemetryLimits", "TelemetryRefused"]

# What one stored row costs beyond its body (id, time, index entries): tiny events count too.
ROW_OVERHEAD_BYTES = 64


@dataclass(frozen=True)
class TelemetryLimits:
    max_event_bytes: int = 64 * 1024
    # Per source address: a burst of `burst` events, then `per_second` on average.
    per_second: float = 2.0
    burst: int = 60
    max_age: dt.timedelta = dt.timedelta(days=30)
    max_total_bytes: int = 64 * 1024 * 1024
    # Source addresses remembered for rate limiting (the least recently seen are forgotten).
    max_sources: int = 10_000


class TelemetryRefused(Exception):
    """An event not taken: `status` and `code` say why (413 too large, 429 too many)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class TelemetryIntake:
    """Accepts, stores and prunes telemetry events within `TelemetryLimits`."""

    def __init__(self, store: Store, limits: TelemetryLimits | None = None) -> None:
        self.store = store
        self.limits = limits or TelemetryLimits()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes_since_prune = 0

    def accept(self, source: str, body: bytes) -> None:
        """Store one event from `source` (its address), or raise TelemetryRefused."""
        if len(body) > self.limits.max_event_bytes:
            raise TelemetryRefused(
                413,
                "RequestEntityTooLargeException",
                f"A telemetry event may have at most {self.limits.max_event_bytes} bytes",
            )
        if not self._take_token(source):
            raise TelemetryRefused(429, "ThrottlingException", "Too many telemetry events from this address")
        size = len(body) + ROW_OVERHEAD_BYTES
        with self.store.write() as conn:
            conn.execute(
                insert(telemetry_events).values(received_at=utcnow(), body=_storable(body), size_bytes=size)
            )
        with self._lock:
            self._bytes_since_prune += size
            due = self._bytes_since_prune > self.limits.max_total_bytes // 8
            if due:
                self._bytes_since_prune = 0
        if due:
            self.prune()

    def prune(self) -> int:
        """Drop events older than the age limit, then the oldest beyond the total cap."""
        cutoff = utcnow() - self.limits.max_age
        with self.store.write() as conn:
            dropped = conn.execute(
                delete(telemetry_events).where(telemetry_events.c.received_at < cutoff)
            ).rowcount
            running = (
                select(
                    telemetry_events.c.event_id,
                    func.sum(telemetry_events.c.size_bytes)
                    .over(order_by=telemetry_events.c.event_id.desc())
                    .label("newer_bytes"),
                )
            ).subquery()
            newest_dropped = conn.execute(
                select(func.max(running.c.event_id)).where(
                    running.c.newer_bytes > self.limits.max_total_bytes
                )
            ).scalar()
            if newest_dropped is not None:
                dropped += conn.execute(
                    delete(telemetry_events).where(telemetry_events.c.event_id <= newest_dropped)
                ).rowcount
        if dropped:
            log.info("telemetry: %d events dropped (age or total size)", dropped)
        return dropped

    def _take_token(self, source: str) -> bool:
        now = time.monotonic()
        limits = self.limits
        with self._lock:
            tokens, last = self._buckets.pop(source, (float(limits.burst), now))
            tokens = min(float(limits.burst), tokens + (now - last) * limits.per_second)
            allowed = tokens >= 1.0
            self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > limits.max_sources:
                self._buckets.popitem(last=False)
        return allowed


def _storable(body: bytes) -> Any:
    """The event as JSON when it is safe JSON (bounded depth, valid text, no NUL, which PostgreSQL
    cannot hold); otherwise its text, kept as such."""
    try:
        event = decode_json_body(body or b"{}")
    except CannotParseError:
        event = None
    if event is None or b"\\u0000" in body:
        return {"unparsed": body.decode("utf-8", "replace").replace("\x00", "\ufffd")}
    return event
