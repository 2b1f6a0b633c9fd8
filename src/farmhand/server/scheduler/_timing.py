"""Poll cadence and the silence after which a worker counts as lost.

`updateIntervalSeconds` adapts: a worker with a live session (or told to come back for more work)
polls every `BUSY_INTERVAL_SECONDS`; an idle worker every `idle` seconds (never 0: the AWS agent would
spin). A worker silent for longer than `worker_timeout(...)` is NOT_RESPONDING and its work is
reclaimed; by default that is max(60 s, 5 x the busy interval).
"""

from __future__ import annotations

BUSY_INTERVAL_SECONDS = 1
DEFAULT_IDLE_INTERVAL_SECONDS = 2
MIN_WORKER_TIMEOUT_SECONDS = 60.0


def update_interval(*, busy: bool, idle_interval: int = DEFAULT_IDLE_INTERVAL_SECONDS) -> int:
    return BUSY_INTERVAL_SECONDS if busy else max(1, int(idle_interval))


def worker_timeout(configured: float | None, *, idle_interval: int = DEFAULT_IDLE_INTERVAL_SECONDS) -> float:
    """Seconds of silence before a worker is NOT_RESPONDING (`configured` wins when given)."""
    if configured is not None and configured > 0:
        return float(configured)
    return max(MIN_WORKER_TIMEOUT_SECONDS, 5.0 * max(BUSY_INTERVAL_SECONDS, idle_interval))
