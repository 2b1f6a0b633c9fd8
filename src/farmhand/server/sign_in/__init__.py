"""Signing in to the farm: passwords, refresh tokens, device codes, and the sign-in page.

`SignInService` answers the identity API's unsigned calls; `sign_in_page` serves the browser page
where a person signs in and approves a terminal's device code.
"""

from ._device import (
    DEVICE_CODE_LIFETIME,
    POLL_INTERVAL,
    decide_device,
    find_pending_device,
    normalise_user_code,
)
from ._errors import AuthorizationPendingError, InvalidGrantError, SlowDownError
from ._page import (
    CSRF_COOKIE,
    PAGE_PATHS,
    SESSION_COOKIE,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    PageAnswer,
    PageRequest,
    SignInPage,
    origin_names_host,
    read_cookies,
    tokens_match,
)
from ._service import SignInRequest, SignInService
from ._throttle import MAX_FAILURES
from ._tokens import (
    CREDENTIALS_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    issue_refresh_token,
    redeem_refresh_token,
    revoke_refresh_token,
)

__all__ = [
    "CREDENTIALS_LIFETIME",
    "CSRF_COOKIE",
    "DEVICE_CODE_LIFETIME",
    "MAX_FAILURES",
    "PAGE_PATHS",
    "POLL_INTERVAL",
    "REFRESH_TOKEN_LIFETIME",
    "SESSION_COOKIE",
    "SIGN_IN_PATH",
    "SIGN_OUT_PATH",
    "AuthorizationPendingError",
    "InvalidGrantError",
    "PageAnswer",
    "PageRequest",
    "SignInPage",
    "SignInRequest",
    "SignInService",
    "SlowDownError",
    "decide_device",
    "find_pending_device",
    "issue_refresh_token",
    "normalise_user_code",
    "origin_names_host",
    "read_cookies",
    "redeem_refresh_token",
    "revoke_refresh_token",
    "tokens_match",
]
