"""Device authorizations: a terminal asks for a code, a person approves it on the farm's sign-in page.

The terminal keeps a long random device code (the store keeps only its hash) and polls with it;
the person types or follows the short user code (`BCDF-GHJK`, no vowels, no look-alikes) after
signing in on the page. An approved code yields one refresh token, once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from ..protocol import AccessDeniedError, ExpiredTokenError, ServiceError, ThrottlingError
from ..store import device_authorizations
from ._errors import AuthorizationPendingError, InvalidGrantError, SlowDownError

__all__ = [
    "DEVICE_CODE_LIFETIME",
    "MAX_PENDING_DEVICE_CODES",
    "POLL_INTERVAL",
    "DeviceAuthorization",
    "DevicePoll",
    "PendingDevice",
    "decide_device",
    "find_pending_device",
    "normalise_user_code",
    "poll_device",
    "start_device_authorization",
]

DEVICE_CODE_LIFETIME = dt.timedelta(minutes=10)
# Starting a device authorization needs no credentials: the codes waiting at once are capped, so a
# flood of requests cannot fill the store.
MAX_PENDING_DEVICE_CODES = 1000
POLL_INTERVAL = dt.timedelta(seconds=1)
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
PENDING, APPROVED, DENIED, COMPLETED = "PENDING", "APPROVED", "DENIED", "COMPLETED"


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str  # given to the terminal once, never stored
    user_code: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class PendingDevice:
    user_code: str
    client_name: str
    expires_at: dt.datetime


def _digest(device_code: str) -> str:
    return hashlib.sha256(device_code.encode("utf-8", "surrogatepass")).hexdigest()


def normalise_user_code(text: str) -> str:
    """`bcdf ghjk`, `BCDFGHJK` and `BCDF-GHJK` are the same code."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def start_device_authorization(conn: Connection, client_name: str, now: dt.datetime) -> DeviceAuthorization:
    conn.execute(delete(device_authorizations).where(device_authorizations.c.expires_at < now))
    waiting = conn.execute(select(func.count()).select_from(device_authorizations)).scalar_one()
    if waiting >= MAX_PENDING_DEVICE_CODES:
        raise ThrottlingError("Too many sign-ins are waiting for approval: try again in a minute", 60)
    device_code = secrets.token_urlsafe(32)
    while True:
        letters = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        user_code = f"{letters[:4]}-{letters[4:]}"
        taken = conn.execute(
            select(device_authorizations.c.user_code).where(device_authorizations.c.user_code == user_code)
        ).first()
        if taken is None:
            break
    conn.execute(
        insert(device_authorizations).values(
            device_code_hash=_digest(device_code),
            user_code=user_code,
            status=PENDING,
            client_name=client_name,
            created_at=now,
            expires_at=now + DEVICE_CODE_LIFETIME,
        )
    )
    return DeviceAuthorization(
        device_code,
        user_code,
        int(DEVICE_CODE_LIFETIME.total_seconds()),
        int(POLL_INTERVAL.total_seconds()),
    )


@dataclass(frozen=True)
class DevicePoll:
    """The outcome of one poll: who approved the code (`principal_id`), or the error to answer.

    Returned rather than raised, so the poll's own record (its time, COMPLETED) is committed either way.
    """

    principal_id: str | None = None
    client_name: str = ""
    error: ServiceError | None = None


def poll_device(conn: Connection, device_code: str, now: dt.datetime) -> DevicePoll:
    """The principal that approved the code (once); else the OAuth error that says why not yet/never."""
    row = conn.execute(
        select(device_authorizations).where(device_authorizations.c.device_code_hash == _digest(device_code))
    ).first()
    if row is None or row.status == COMPLETED:
        return DevicePoll(
            error=InvalidGrantError("The device code is not valid (unknown, altered or already used)")
        )
    if row.expires_at <= now:
        return DevicePoll(error=ExpiredTokenError("The device code has expired: start the sign-in again"))
    if row.status == DENIED:
        return DevicePoll(error=AccessDeniedError("The sign-in was denied on the farm's sign-in page"))
    key = device_authorizations.c.device_code_hash == row.device_code_hash
    if row.status == APPROVED:
        conn.execute(update(device_authorizations).where(key).values(status=COMPLETED, last_polled_at=now))
        return DevicePoll(principal_id=str(row.principal_id), client_name=row.client_name)
    too_soon = row.last_polled_at is not None and now - row.last_polled_at < POLL_INTERVAL / 2
    conn.execute(update(device_authorizations).where(key).values(last_polled_at=now))
    if too_soon:
        return DevicePoll(error=SlowDownError(f"Poll at most every {int(POLL_INTERVAL.total_seconds())} s"))
    return DevicePoll(
        error=AuthorizationPendingError("Waiting for the sign-in to be approved on the farm's sign-in page")
    )


def find_pending_device(conn: Connection, user_code: str, now: dt.datetime) -> PendingDevice | None:
    row = conn.execute(
        select(device_authorizations).where(
            and_(
                device_authorizations.c.user_code == normalise_user_code(user_code),
                device_authorizations.c.status == PENDING,
                device_authorizations.c.expires_at > now,
            )
        )
    ).first()
    return None if row is None else PendingDevice(row.user_code, row.client_name, row.expires_at)


def decide_device(
    conn: Connection, user_code: str, principal_id: str, approve: bool, now: dt.datetime
) -> bool:
    """Approve (for `principal_id`) or deny a pending code; False when there is no such pending code."""
    changed = conn.execute(
        update(device_authorizations)
        .where(
            and_(
                device_authorizations.c.user_code == normalise_user_code(user_code),
                device_authorizations.c.status == PENDING,
                device_authorizations.c.expires_at > now,
            )
        )
        .values(status=APPROVED if approve else DENIED, principal_id=principal_id)
    ).rowcount
    return bool(changed)
