"""The unsigned calls of the identity API: SignIn, GetSignInCredentials, SignOut and the device flow.

Each call is its own proof (a password, a refresh token, a device code), so none carries a SigV4
signature. A password is checked outside any transaction (scrypt takes tens of milliseconds and
must not hold the store's write lock); a failure is recorded before the answer goes out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..identity_store import ENABLED, UserRecord, find_user, lookup_principal, verify_password
from ..protocol import AccessDeniedError, UnknownOperationError
from ..store import Store
from ._device import normalise_user_code, poll_device, start_device_authorization
from ._errors import InvalidGrantError
from ._throttle import check_not_throttled, record_failure
from ._tokens import (
    issue_refresh_token,
    mint_credentials,
    redeem_refresh_token,
    revoke_refresh_token,
)

__all__ = ["SignInRequest", "SignInService"]

DEFAULT_CLIENT_NAME = "farmhand sign-in"


@dataclass(frozen=True)
class SignInRequest:
    """Where an unsigned call came from: the client's address (throttling) and the farm's public URL."""

    address: str
    base_url: str
    now: dt.datetime


class SignInService:
    """Answers the unsigned identity calls against one store."""

    def __init__(self, store: Store, identity_store_id: str) -> None:
        self.store = store
        self.identity_store_id = identity_store_id
        self._operations: dict[str, Callable[[dict[str, Any], SignInRequest], dict[str, Any]]] = {
            "SignIn": self.sign_in,
            "GetSignInCredentials": self.get_credentials,
            "SignOut": self.sign_out,
            "StartDeviceAuthorization": self.start_device_authorization,
            "CreateTokenWithDeviceCode": self.create_token_with_device_code,
        }

    def handle(self, operation: str, params: dict[str, Any], request: SignInRequest) -> dict[str, Any]:
        handler = self._operations.get(operation)
        if handler is None:
            raise UnknownOperationError(f"{operation} is not a sign-in operation")
        return handler(params, request)

    def check_password(self, user_name: str, password: str, request: SignInRequest) -> UserRecord:
        """The enabled user whose password this is; wrong guesses are counted and throttled."""
        with self.store.read() as conn:
            check_not_throttled(conn, user_name, request.address, request.now)
            user = find_user(conn, user_name)
        if not verify_password(password, user.password_hash if user is not None else None):
            with self.store.write() as conn:
                record_failure(conn, user_name, request.address, request.now)
            raise InvalidGrantError("The user name or password is incorrect")
        assert user is not None
        if user.status != ENABLED:
            raise AccessDeniedError(f"User {user_name} is disabled")
        return user

    def _signed_in(
        self, principal_id: str, user_name: str, client_name: str, now: dt.datetime
    ) -> dict[str, Any]:
        with self.store.write() as conn:
            token = issue_refresh_token(conn, principal_id, client_name, now)
        return {
            "refreshToken": token.text,
            "refreshTokenExpiresAt": token.expires_at,
            "principalId": principal_id,
            "identityStoreId": self.identity_store_id,
            "userName": user_name,
        }

    def sign_in(self, params: dict[str, Any], request: SignInRequest) -> dict[str, Any]:
        user = self.check_password(params["userName"], params["password"], request)
        client_name = params.get("clientName") or DEFAULT_CLIENT_NAME
        return self._signed_in(user.principal_id, user.user_name, client_name, request.now)

    def get_credentials(self, params: dict[str, Any], request: SignInRequest) -> dict[str, Any]:
        with self.store.write() as conn:
            signed_in = redeem_refresh_token(conn, params["refreshToken"], request.now)
            credentials = mint_credentials(conn, signed_in, request.now)
        return {
            "credentials": credentials,
            "principalId": signed_in.principal_id,
            "identityStoreId": self.identity_store_id,
            "userName": signed_in.user_name,
        }

    def sign_out(self, params: dict[str, Any], request: SignInRequest) -> dict[str, Any]:
        with self.store.write() as conn:
            revoke_refresh_token(conn, params["refreshToken"], request.now)
        return {}

    def start_device_authorization(self, params: dict[str, Any], request: SignInRequest) -> dict[str, Any]:
        client_name = params.get("clientName") or DEFAULT_CLIENT_NAME
        with self.store.write() as conn:
            device = start_device_authorization(conn, client_name, request.now)
        page = f"{request.base_url}/signin"
        return {
            "deviceCode": device.device_code,
            "userCode": device.user_code,
            "verificationUri": page,
            "verificationUriComplete": f"{page}?user_code={normalise_user_code(device.user_code)}",
            "expiresIn": device.expires_in,
            "interval": device.interval,
        }

    def create_token_with_device_code(self, params: dict[str, Any], request: SignInRequest) -> dict[str, Any]:
        with self.store.write() as conn:
            poll = poll_device(conn, params["deviceCode"], request.now)
            entry = lookup_principal(conn, poll.principal_id) if poll.principal_id else None
        if poll.error is not None:
            raise poll.error
        if entry is None or not entry.enabled:
            raise AccessDeniedError("The user who approved this sign-in is no longer enabled")
        return self._signed_in(entry.principal_id, entry.name, poll.client_name, request.now)
