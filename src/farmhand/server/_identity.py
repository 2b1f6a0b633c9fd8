"""Who is calling: principals, their access keys, and the temporary credentials the farm mints.

Long-lived keys belong to users (the admin created on first start, later farm users); temporary
credentials (key, secret, session token, expiry) are minted for queue and fleet roles and are
accepted by this server only, until they expire. Secret keys and session tokens are stored sealed
with the farm secret (see `farm_secret`): the database alone reveals no usable credential.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from ..arns import arn
from ._ids import new_access_key_id, new_account_id, new_secret, new_session_token
from .farm_secret import farm_secret_of, is_sealed, unsealed
from .protocol import SigningKey
from .store import Changes, Store, access_keys, principals, settings, utcnow

ADMIN_CREDENTIALS_FILE = "admin-credentials.json"
DEFAULT_REGION = "us-west-2"
# Purposes the access keys' secrets are sealed for (see `farm_secret`).
SECRET_KEY_PURPOSE = "access-keys:secret_access_key"
SESSION_TOKEN_PURPOSE = "access-keys:session_token"


@dataclass(frozen=True)
class Principal:
    principal_id: str
    arn: str
    kind: str
    scope: dict[str, Any] | None = None


@dataclass(frozen=True)
class AdminCredentials:
    access_key_id: str
    secret_access_key: str
    principal_arn: str
    account_id: str


def get_setting(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return None if value is None else str(value)


def ensure_account(store: Store) -> str:
    """The farm's 12-digit account id, chosen once and kept."""
    with store.write() as conn:
        account = get_setting(conn, "account_id")
        if account is None:
            account = new_account_id()
            conn.execute(insert(settings).values(key="account_id", value=account))
        return account


def ensure_admin(store: Store, data_dir: Path) -> AdminCredentials:
    """Create the admin principal and key on first start; write them to a 0600 file in the data dir."""
    account = ensure_account(store)
    path = data_dir / ADMIN_CREDENTIALS_FILE
    with store.write() as conn:
        key_id = get_setting(conn, "admin_access_key_id")
        if key_id is None:
            principal_id = "admin"
            admin_arn = arn("iam", "user/admin", account=account)
            conn.execute(
                insert(principals).values(
                    principal_id=principal_id,
                    arn=admin_arn,
                    kind="user",
                    display_name="admin",
                    created_at=utcnow(),
                )
            )
            key_id = new_access_key_id(temporary=False)
            record_access_key(conn, principal_id, key_id, new_secret())
            conn.execute(insert(settings).values(key="admin_access_key_id", value=key_id))
        row = conn.execute(
            select(access_keys.c.secret_access_key, principals.c.arn)
            .join(principals, principals.c.principal_id == access_keys.c.principal_id)
            .where(access_keys.c.access_key_id == key_id)
        ).one()
        secret = farm_secret_of(conn).unseal(row.secret_access_key, SECRET_KEY_PURPOSE)
    creds = AdminCredentials(key_id, secret, row.arn, account)
    if not path.exists():
        _write_private(
            path,
            json.dumps(
                {
                    "aws_access_key_id": creds.access_key_id,
                    "aws_secret_access_key": creds.secret_access_key,
                    "principal_arn": creds.principal_arn,
                    "account_id": creds.account_id,
                },
                indent=2,
            ),
        )
    return creds


def record_access_key(
    conn: Connection, principal_id: str, access_key_id: str, secret_access_key: str
) -> None:
    """Keep a long-lived key of `principal_id` (its secret sealed with the farm secret)."""
    conn.execute(
        insert(access_keys).values(
            access_key_id=access_key_id,
            secret_access_key=farm_secret_of(conn).seal(secret_access_key, SECRET_KEY_PURPOSE),
            principal_id=principal_id,
            created_at=utcnow(),
        )
    )


def prune_expired_keys(store: Store) -> None:
    """Delete keys that expired over an hour ago (housekeeping, not on every minting: a delete of
    keys makes every server drop its cached keys)."""
    with store.write() as conn:
        conn.execute(delete(access_keys).where(access_keys.c.expires_at < utcnow() - dt.timedelta(hours=1)))


def seal_plaintext_keys(conn: Connection) -> int:
    """Seal the secrets of keys stored in plaintext by an older farmhand; returns how many."""
    farm_secret = farm_secret_of(conn)
    rows = conn.execute(
        select(
            access_keys.c.access_key_id, access_keys.c.secret_access_key, access_keys.c.session_token
        ).where(or_(unsealed(access_keys.c.secret_access_key), unsealed(access_keys.c.session_token)))
    ).all()
    sealed = 0
    for row in rows:
        values: dict[str, str] = {}
        if not is_sealed(row.secret_access_key):
            values["secret_access_key"] = farm_secret.seal(row.secret_access_key, SECRET_KEY_PURPOSE)
        if row.session_token is not None and not is_sealed(row.session_token):
            values["session_token"] = farm_secret.seal(row.session_token, SESSION_TOKEN_PURPOSE)
        if values:
            conn.execute(
                update(access_keys).where(access_keys.c.access_key_id == row.access_key_id).values(**values)
            )
            sealed += 1
    return sealed


def read_admin_credentials(data_dir: Path) -> AdminCredentials:
    doc = json.loads((data_dir / ADMIN_CREDENTIALS_FILE).read_text())
    return AdminCredentials(
        doc["aws_access_key_id"], doc["aws_secret_access_key"], doc["principal_arn"], doc["account_id"]
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def lookup_signing_key(conn: Connection, access_key_id: str) -> tuple[SigningKey, Principal] | None:
    row = conn.execute(
        select(access_keys, principals.c.arn, principals.c.kind)
        .join(principals, principals.c.principal_id == access_keys.c.principal_id)
        .where(access_keys.c.access_key_id == access_key_id)
    ).first()
    if row is None:
        return None
    farm_secret = farm_secret_of(conn)
    key = SigningKey(
        access_key_id=row.access_key_id,
        secret_access_key=farm_secret.unseal(row.secret_access_key, SECRET_KEY_PURPOSE),
        principal_id=row.principal_id,
        session_token=(
            None
            if row.session_token is None
            else farm_secret.unseal(row.session_token, SESSION_TOKEN_PURPOSE)
        ),
        expires_at=row.expires_at,
    )
    return key, Principal(row.principal_id, row.arn, row.kind, row.scope)


class SigningKeyCache:
    """Keys found in the store, kept in memory so that most requests skip a read and two unseals.

    Keys are inserted, and changed or deleted only to revoke them or once long expired; expiry is
    checked on every request against the cached `expires_at`. Whenever a transaction of this server
    changes or deletes keys, every entry is dropped, and the farm's other servers drop theirs when
    told (PostgreSQL notifications; all of them when the notifications were interrupted), so `ttl`
    only bounds what a lost notification could leave. It is longer than a worker's long poll, so an
    idle worker's next poll finds its key here. A signed-in user's credentials are never cached:
    signing out or disabling the user deletes them, and that must stop them at once.
    """

    def __init__(self, store: Store, ttl_seconds: float = 300.0, max_entries: int = 50_000) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, tuple[SigningKey, Principal]]] = {}
        store.committed.append(self._committed)

    def _committed(self, changes: Changes) -> None:
        if ("access_keys", "update") in changes or ("access_keys", "delete") in changes:
            self.clear()

    def lookup(self, access_key_id: str) -> tuple[SigningKey, Principal] | None:
        now = time.monotonic()
        cached = self._entries.get(access_key_id)
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        with self.store.read() as conn:
            found = lookup_signing_key(conn, access_key_id)
        if found is None:
            self._entries.pop(access_key_id, None)
            return None
        if _revocable_at_once(*found):
            return found
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[access_key_id] = (now, found)
        return found

    def evict(self, access_key_id: str) -> None:
        """Forget a key that was deleted or changed (possibly by another server of the farm)."""
        self._entries.pop(access_key_id, None)

    def clear(self) -> None:
        self._entries.clear()


def _revocable_at_once(key: SigningKey, principal: Principal) -> bool:
    """Temporary credentials of a user principal: minted by sign-in, revoked by sign-out."""
    return principal.kind == "user" and key.session_token is not None


def ensure_principal(conn: Connection, principal_id: str, arn: str, kind: str, display_name: str) -> None:
    exists = conn.execute(
        select(principals.c.principal_id).where(principals.c.principal_id == principal_id)
    ).first()
    if exists is None:
        conn.execute(
            insert(principals).values(
                principal_id=principal_id, arn=arn, kind=kind, display_name=display_name, created_at=utcnow()
            )
        )


def mint_temporary_credentials(
    conn: Connection,
    principal_id: str,
    scope: dict[str, Any] | None,
    lifetime: dt.timedelta = dt.timedelta(hours=1, minutes=30),
) -> dict[str, Any]:
    """Temporary credentials in the `AwsCredentials` shape of the model: for a role principal (its
    scope says what they reach), or for a signed-in user (no scope: the user's own access)."""
    return record_temporary_credentials(
        conn,
        principal_id,
        scope,
        access_key_id=new_access_key_id(temporary=True),
        secret_access_key=new_secret(),
        session_token=new_session_token(),
        expires=utcnow() + lifetime,
    )


def record_temporary_credentials(
    conn: Connection,
    principal_id: str,
    scope: dict[str, Any] | None,
    *,
    access_key_id: str,
    secret_access_key: str,
    session_token: str,
    expires: dt.datetime,
) -> dict[str, Any]:
    """Keep temporary credentials (minted here or issued by an external store) so that requests
    signed with them are verified as `principal_id` within `scope` until they expire."""
    now = utcnow()
    conn.execute(
        insert(access_keys).values(
            access_key_id=access_key_id,
            secret_access_key=farm_secret_of(conn).seal(secret_access_key, SECRET_KEY_PURPOSE),
            principal_id=principal_id,
            session_token=farm_secret_of(conn).seal(session_token, SESSION_TOKEN_PURPOSE),
            expires_at=expires,
            scope=scope,
            created_at=now,
        )
    )
    return {
        "accessKeyId": access_key_id,
        "secretAccessKey": secret_access_key,
        "sessionToken": session_token,
        "expiration": expires,
    }
