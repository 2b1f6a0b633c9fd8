"""Device authorizations in the store: codes, their one-time use, and the cap on codes waiting."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection

from farmhand.server.protocol import ThrottlingError
from farmhand.server.sign_in import decide_device, normalise_user_code
from farmhand.server.sign_in._device import (
    DEVICE_CODE_LIFETIME,
    poll_device,
    start_device_authorization,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_user_codes_read_the_same_however_typed() -> None:
    assert normalise_user_code("bcdf ghjk") == normalise_user_code("BCDF-GHJK") == "BCDF-GHJK"


def test_an_approved_code_yields_its_principal_once(conn: Connection) -> None:
    started = start_device_authorization(conn, "terminal", NOW)

    assert poll_device(conn, started.device_code, NOW).error.code == "AuthorizationPendingException"  # type: ignore[union-attr]
    assert decide_device(conn, started.user_code.lower(), "principal-1", True, NOW)
    first = poll_device(conn, started.device_code, NOW + dt.timedelta(seconds=5))
    again = poll_device(conn, started.device_code, NOW + dt.timedelta(seconds=10))

    assert first.principal_id == "principal-1" and first.error is None
    assert again.error is not None and again.error.code == "InvalidGrantException"


def test_codes_expire(conn: Connection) -> None:
    started = start_device_authorization(conn, "terminal", NOW)
    later = NOW + DEVICE_CODE_LIFETIME + dt.timedelta(seconds=1)

    assert not decide_device(conn, started.user_code, "principal-1", True, later)
    assert poll_device(conn, started.device_code, later).error.code == "ExpiredTokenException"  # type: ignore[union-attr]


def test_the_codes_waiting_at_once_are_capped(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    from farmhand.server.sign_in import _device

    monkeypatch.setattr(_device, "MAX_PENDING_DEVICE_CODES", 3)
    for _ in range(3):
        start_device_authorization(conn, "terminal", NOW)

    with pytest.raises(ThrottlingError):
        start_device_authorization(conn, "terminal", NOW)
    # Expired codes make room again.
    start_device_authorization(conn, "terminal", NOW + DEVICE_CODE_LIFETIME + dt.timedelta(seconds=1))
