"""How long the supervisor waits before restarting a child that exited.

A child that keeps dying right after it starts is restarted ever more slowly (1, 2, 4 ... 30 s), so
a broken install does not spin. A child that had been running for a while before it died starts
the count again: one crash after a day of service costs a second, not the backoff its first
minutes of life built up.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RestartBackoff"]


@dataclass
class RestartBackoff:
    # A child that ran less than this died "quickly" and makes the next wait longer.
    quick_seconds: float = 10.0
    # A child that ran at least this long resets the backoff.
    reset_after_seconds: float = 60.0
    max_delay_seconds: float = 30.0
    restarts: int = 0

    def delay_after(self, ran_seconds: float) -> float:
        """The wait before restarting a child that exited after running `ran_seconds`."""
        if ran_seconds >= self.reset_after_seconds:
            self.restarts = 0
        if ran_seconds < self.quick_seconds:
            delay = min(self.max_delay_seconds, 2.0 ** min(self.restarts, 5))
        else:
            delay = 1.0
        self.restarts += 1
        return delay
