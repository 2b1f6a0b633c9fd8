"""Who a monitor page acts for: the user signed in on the farm's sign-in page.

The sign-in page leaves a refresh token in an HttpOnly cookie. The monitor's script calls the farm's
ordinary API paths with that cookie instead of a SigV4 signature, plus the page's CSRF token in a
header of its own: a page of another site can make the browser send the cookie, but it can neither
read the token nor add a custom header without a CORS preflight the farm never grants. The token is
redeemed on every call (no cache), so signing out or disabling the user stops the page at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from .._identity import Principal
from ..protocol import AccessDeniedError, ServiceError, UnrecognizedClientError
from ..sign_in import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    origin_names_host,
    read_cookies,
    redeem_refresh_token,
    tokens_match,
)
from ..store import Store, principals

__all__ = ["CSRF_HEADER", "MonitorSession", "MonitorSessions", "is_monitor_call"]

#: The header carrying the page's CSRF token on every API call the monitor makes.
CSRF_HEADER = "x-farmhand-csrf"


def is_monitor_call(headers: Mapping[str, str]) -> bool:
    """An API request from a monitor page: unsigned, with the monitor's CSRF header."""
    return CSRF_HEADER in headers and "authorization" not in headers


@dataclass(frozen=True)
class MonitorSession:
    """A signed-in page: the user's principal and name, and the CSRF token its forms carry."""

    principal: Principal
    user_name: str
    csrf: str


def _same_site(headers: Mapping[str, str]) -> bool:
    """No Origin (a same-origin GET) or an Origin naming this very host."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin_names_host(origin, headers.get("host", ""))


class MonitorSessions:
    """Turns a request's cookies into the signed-in user's principal."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def page_session(self, headers: Mapping[str, str], now: dt.datetime) -> MonitorSession | None:
        """The session of a page request, or None when nobody (valid) is signed in."""
        cookies = read_cookies(headers.get("cookie", ""))
        token, csrf = cookies.get(SESSION_COOKIE), cookies.get(CSRF_COOKIE)
        if not token or not csrf:
            return None
        try:
            return self._redeem(token, csrf, now)
        except ServiceError:
            return None

    def api_principal(self, headers: Mapping[str, str], now: dt.datetime) -> Principal:
        """The principal of a monitor API call, or the error that says why there is none."""
        cookies = read_cookies(headers.get("cookie", ""))
        csrf = cookies.get(CSRF_COOKIE, "")
        if not csrf or not tokens_match(headers.get(CSRF_HEADER, ""), csrf):
            raise AccessDeniedError("The monitor's CSRF token does not match this browser's: reload the page")
        if not _same_site(headers):
            raise AccessDeniedError("A monitor call from another site is refused")
        token = cookies.get(SESSION_COOKIE)
        if not token:
            raise UnrecognizedClientError("Not signed in: sign in on the farm's sign-in page")
        try:
            return self._redeem(token, csrf, now).principal
        except ServiceError as error:
            raise UnrecognizedClientError(f"Not signed in: {error.message}") from error

    def _redeem(self, token: str, csrf: str, now: dt.datetime) -> MonitorSession:
        with self.store.read() as conn:
            signed_in = redeem_refresh_token(conn, token, now)
            row = conn.execute(
                select(principals.c.arn, principals.c.kind).where(
                    principals.c.principal_id == signed_in.principal_id
                )
            ).first()
        if row is None:
            raise UnrecognizedClientError("The signed-in user no longer exists")
        principal = Principal(signed_in.principal_id, str(row.arn), str(row.kind), None)
        return MonitorSession(principal, signed_in.user_name, csrf)
