"""Failed password checks, counted per user name and client address: more than 10 a minute are refused.

Failures are rows in the store, so every server of a farm counts the same attempts; rows older
than an hour are removed as new ones arrive.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Connection, and_, delete, func, insert, select

from ..protocol import ThrottlingError
from ..store import sign_in_failures

__all__ = ["MAX_FAILURES", "WINDOW", "check_not_throttled", "record_failure"]

MAX_FAILURES = 10
WINDOW = dt.timedelta(minutes=1)
KEEP = dt.timedelta(hours=1)


def check_not_throttled(conn: Connection, user_name: str, address: str, now: dt.datetime) -> None:
    """Raise ThrottlingException when this user and address failed MAX_FAILURES times in the window."""
    since = now - WINDOW
    count, oldest = conn.execute(
        select(func.count(), func.min(sign_in_failures.c.failed_at)).where(
            and_(
                sign_in_failures.c.user_name == user_name,
                sign_in_failures.c.address == address,
                sign_in_failures.c.failed_at > since,
            )
        )
    ).one()
    if count >= MAX_FAILURES:
        wait = max(1, math.ceil(((oldest or now) + WINDOW - now).total_seconds()))
        raise ThrottlingError(
            f"Too many failed sign-ins for {user_name} from {address}: try again in {wait} s",
            retry_after_seconds=wait,
        )


def record_failure(conn: Connection, user_name: str, address: str, now: dt.datetime) -> None:
    conn.execute(insert(sign_in_failures).values(user_name=user_name, address=address, failed_at=now))
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.failed_at < now - KEEP))
