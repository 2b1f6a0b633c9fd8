"""Signing in and out of a sign-in profile, and the credentials its `credential_process` prints.

Sign-in stores the refresh token (and a first set of credentials) in the profile's private token
file and records who signed in in the profile; credentials are reused while they have more than
20 minutes left, then refreshed with the token. Signing out revokes the token at the farm (with
the credentials minted from it) and deletes the file.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..exceptions import DeadlineOperationCanceled, DeadlineOperationError
from ._clients import unsigned_identity_client
from ._profiles import SignInProfile, read_sign_in_profile, record_signed_in_identity
from ._token_store import StoredSignIn, delete_sign_in, read_sign_in, write_sign_in

__all__ = [
    "REUSE_MARGIN",
    "DeviceCode",
    "SignInError",
    "process_credentials",
    "sign_in_with_device",
    "sign_in_with_password",
    "sign_out",
]

REUSE_MARGIN = dt.timedelta(minutes=20)
_RETRYABLE = ("AuthorizationPendingException", "SlowDownException")


class SignInError(DeadlineOperationError):
    """Signing in failed or is needed; the message says what to do."""


@dataclass(frozen=True)
class DeviceCode:
    """What a person needs to approve a terminal's sign-in."""

    verification_uri: str
    verification_uri_complete: str
    user_code: str
    expires_in: int


def _client(profile: SignInProfile) -> Any:
    return unsigned_identity_client(profile.url, ca_bundle=profile.ca_bundle, region=profile.region)


def _client_name(profile: SignInProfile) -> str:
    return f"farmhand on {platform.node() or 'this machine'} (profile {profile.name})"[:256]


def _why(error: Any) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Message') or error} [{details.get('Code', 'Error')}]"


def _remember(profile: SignInProfile, signed_in: dict[str, Any]) -> StoredSignIn:
    """Store the refresh token with a first set of credentials; record the user in the profile."""
    client = _client(profile)
    minted = client.get_sign_in_credentials(refreshToken=signed_in["refreshToken"])
    stored = StoredSignIn(
        url=profile.url,
        user_name=signed_in["userName"],
        principal_id=signed_in["principalId"],
        identity_store_id=signed_in["identityStoreId"],
        refresh_token=signed_in["refreshToken"],
        refresh_token_expires_at=signed_in["refreshTokenExpiresAt"].isoformat(),
        credentials=_process_shape(minted["credentials"]),
    )
    # The profile names the user before the token file exists, so whoever sees the profile
    # authenticate (`deadline auth login` polls for it) also sees its user_id.
    record_signed_in_identity(profile.name, stored.user_name, stored.principal_id, stored.identity_store_id)
    write_sign_in(profile.name, stored)
    return stored


def sign_in_with_password(profile_name: str, password: str, user_name: str | None = None) -> StoredSignIn:
    from botocore.exceptions import ClientError

    profile = read_sign_in_profile(profile_name)
    user = user_name or profile.user_name
    if not user:
        raise SignInError(f"The profile '{profile_name}' names no user: pass --user")
    try:
        signed_in = _client(profile).sign_in(
            userName=user, password=password, clientName=_client_name(profile)
        )
        return _remember(profile, signed_in)
    except ClientError as error:
        raise SignInError(f"Could not sign in to {profile.url} as {user}: {_why(error)}") from error


def sign_in_with_device(
    profile_name: str,
    on_code: Callable[[DeviceCode], None],
    is_cancelled: Callable[[], bool] = lambda: False,
) -> StoredSignIn:
    """Show a code (`on_code`), then wait until it is approved on the farm's sign-in page."""
    from botocore.exceptions import ClientError

    profile = read_sign_in_profile(profile_name)
    client = _client(profile)
    try:
        started = client.start_device_authorization(clientName=_client_name(profile))
    except ClientError as error:
        raise SignInError(f"Could not start signing in to {profile.url}: {_why(error)}") from error
    on_code(
        DeviceCode(
            started["verificationUri"],
            started["verificationUriComplete"],
            started["userCode"],
            int(started["expiresIn"]),
        )
    )
    interval = max(1, int(started["interval"]))
    give_up = time.monotonic() + int(started["expiresIn"])
    while time.monotonic() < give_up:
        if is_cancelled():
            raise DeadlineOperationCanceled("Login canceled.")
        time.sleep(interval)
        try:
            signed_in = client.create_token_with_device_code(deviceCode=started["deviceCode"])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _RETRYABLE:
                if code == "SlowDownException":
                    interval += 1
                continue
            raise SignInError(f"Signing in to {profile.url} failed: {_why(error)}") from error
        return _remember(profile, signed_in)
    raise SignInError(f"The code {started['userCode']} was not approved in time: run the login again")


def sign_out(profile_name: str) -> str:
    """Revoke the profile's refresh token at the farm and delete it here."""
    from botocore.exceptions import BotoCoreError, ClientError

    profile = read_sign_in_profile(profile_name)
    stored = read_sign_in(profile_name)
    if stored is None:
        return f"Profile {profile_name} was not signed in."
    problem = ""
    try:
        _client(profile).sign_out(refreshToken=stored.refresh_token)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvalidGrantException":  # revoked already
            problem = _why(error)
    except BotoCoreError as error:
        problem = str(error)
    delete_sign_in(profile_name)
    if problem:
        raise SignInError(
            f"Signed out of profile {profile_name} on this machine, but the farm could not revoke the "
            f"token ({problem}); it expires at {stored.refresh_token_expires_at}"
        )
    return f"Signed out of profile {profile_name} ({stored.user_name} at {profile.url})."


def _process_shape(credentials: dict[str, Any]) -> dict[str, str]:
    """The `credential_process` output: https://docs.aws.amazon.com/cli/latest/topic/config-vars.html"""
    expiration = credentials["expiration"]
    if isinstance(expiration, dt.datetime):
        expiration = expiration.astimezone(dt.UTC).isoformat()
    return {
        "Version": "1",
        "AccessKeyId": credentials["accessKeyId"],
        "SecretAccessKey": credentials["secretAccessKey"],
        "SessionToken": credentials["sessionToken"],
        "Expiration": str(expiration),
    }


def process_credentials(profile_name: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Credentials for botocore's `credential_process`: the stored ones while fresh, else refreshed."""
    now = now or dt.datetime.now(dt.UTC)
    stored = read_sign_in(profile_name)
    if stored is None:
        raise SignInError(
            f"Profile {profile_name} is not signed in: run `farmhand login --profile {profile_name}`"
        )
    if stored.credentials_valid_for(now) <= REUSE_MARGIN:
        from botocore.exceptions import ClientError

        profile = read_sign_in_profile(profile_name)
        try:
            minted = _client(profile).get_sign_in_credentials(refreshToken=stored.refresh_token)
        except ClientError as error:
            raise SignInError(
                f"Profile {profile_name} needs a new sign-in ({_why(error)}): "
                f"run `farmhand login --profile {profile_name}`"
            ) from error
        stored.credentials = _process_shape(minted["credentials"])
        write_sign_in(profile_name, stored)
    assert stored.credentials is not None
    return {**stored.credentials, "Version": 1}
