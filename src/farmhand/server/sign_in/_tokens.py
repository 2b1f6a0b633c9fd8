"""Refresh tokens and the temporary credentials minted from them.

A refresh token reads `fhrt.<id>.<secret>`; the store keeps the id and a SHA-256 hash of the
secret (256 random bits: a plain hash cannot be reversed or guessed), so a copy of the database
signs no one in. Credentials last at most an hour and never outlive their token; each is listed
with its token, so revoking the token deletes them at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .._identity import mint_temporary_credentials
from ..identity_store import ENABLED
from ..protocol import AccessDeniedError, ExpiredTokenError
from ..store import access_keys, refresh_tokens, sign_in_keys, users
from ._errors import InvalidGrantError

__all__ = [
    "CREDENTIALS_LIFETIME",
    "REFRESH_TOKEN_LIFETIME",
    "IssuedToken",
    "SignedInUser",
    "issue_refresh_token",
    "mint_credentials",
    "redeem_refresh_token",
    "revoke_refresh_token",
]

REFRESH_TOKEN_LIFETIME = dt.timedelta(days=30)
CREDENTIALS_LIFETIME = dt.timedelta(hours=1)
_PREFIX = "fhrt"


@dataclass(frozen=True)
class IssuedToken:
    text: str  # given to the client once, never stored
    token_id: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class SignedInUser:
    """What a valid refresh token stands for."""

    token_id: str
    principal_id: str
    user_name: str
    token_expires_at: dt.datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def issue_refresh_token(
    conn: Connection, principal_id: str, client_name: str, now: dt.datetime
) -> IssuedToken:
    token_id = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    expires = now + REFRESH_TOKEN_LIFETIME
    conn.execute(
        insert(refresh_tokens).values(
            token_id=token_id,
            principal_id=principal_id,
            token_hash=_digest(secret),
            client_name=client_name,
            created_at=now,
            expires_at=expires,
        )
    )
    return IssuedToken(f"{_PREFIX}.{token_id}.{secret}", token_id, expires)


def _find(conn: Connection, text: str) -> Any:
    """The token's row when `text` is a well-formed token whose secret matches; else None."""
    prefix, _, rest = text.partition(".")
    token_id, _, secret = rest.partition(".")
    if prefix != _PREFIX or not token_id or not secret:
        return None
    row = conn.execute(select(refresh_tokens).where(refresh_tokens.c.token_id == token_id)).first()
    if row is None or not hmac.compare_digest(row.token_hash, _digest(secret)):
        return None
    return row


def redeem_refresh_token(conn: Connection, text: str, now: dt.datetime) -> SignedInUser:
    """The signed-in user of a valid token; a refresh token of a removed or disabled user is refused."""
    row = _find(conn, text)
    if row is None or row.revoked_at is not None:
        raise InvalidGrantError(
            "The refresh token is not valid (signed out, revoked or altered): sign in again"
        )
    if row.expires_at <= now:
        raise ExpiredTokenError("The refresh token has expired: sign in again")
    user = conn.execute(
        select(users.c.user_name, users.c.status).where(users.c.principal_id == row.principal_id)
    ).first()
    if user is None:
        raise InvalidGrantError("The user of this refresh token no longer exists")
    if user.status != ENABLED:
        raise AccessDeniedError(f"User {user.user_name} is disabled")
    return SignedInUser(row.token_id, row.principal_id, user.user_name, row.expires_at)


def mint_credentials(conn: Connection, signed_in: SignedInUser, now: dt.datetime) -> dict[str, Any]:
    """Temporary credentials of the user (no scope: what it may do is its memberships' business)."""
    lifetime = min(CREDENTIALS_LIFETIME, signed_in.token_expires_at - now)
    credentials = mint_temporary_credentials(conn, signed_in.principal_id, None, lifetime)
    conn.execute(
        insert(sign_in_keys).values(
            access_key_id=credentials["accessKeyId"],
            token_id=signed_in.token_id,
            expires_at=credentials["expiration"],
        )
    )
    conn.execute(delete(sign_in_keys).where(sign_in_keys.c.expires_at < now - dt.timedelta(hours=1)))
    conn.execute(
        update(refresh_tokens).where(refresh_tokens.c.token_id == signed_in.token_id).values(last_used_at=now)
    )
    return credentials


def revoke_refresh_token(conn: Connection, text: str, now: dt.datetime) -> str:
    """Revoke the token and delete the credentials minted from it; the principal id it belonged to.

    Revoking a token twice is fine (signing out is idempotent); an unknown or altered one is not.
    """
    row = _find(conn, text)
    if row is None:
        raise InvalidGrantError("The refresh token is not valid (unknown or altered)")
    if row.revoked_at is None:
        conn.execute(
            update(refresh_tokens).where(refresh_tokens.c.token_id == row.token_id).values(revoked_at=now)
        )
    minted = select(sign_in_keys.c.access_key_id).where(sign_in_keys.c.token_id == row.token_id)
    conn.execute(delete(access_keys).where(access_keys.c.access_key_id.in_(minted)))
    conn.execute(delete(sign_in_keys).where(sign_in_keys.c.token_id == row.token_id))
    return str(row.principal_id)
