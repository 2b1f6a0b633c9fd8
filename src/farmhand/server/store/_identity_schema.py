"""The farm's identity store and sign-in: users, groups, refresh tokens, device codes, failed sign-ins.

Users and groups are principals (their ids are also rows of `principals`); a user signs in with a
password (scrypt hash) and gets a refresh token, of which only a SHA-256 hash is kept. Credentials
minted from a refresh token are listed in `sign_in_keys`, so signing out revokes them at once.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from ._schema import metadata
from ._types import Epoch

users = Table(
    "users",
    metadata,
    Column("principal_id", String(64), primary_key=True),
    Column("user_name", String(128), nullable=False, unique=True),
    Column("display_name", String(256), nullable=False),
    Column("password_hash", String(256), nullable=True),  # scrypt$n$r$p$salt$hash; None: cannot sign in
    Column("status", String(16), nullable=False),  # ENABLED | DISABLED
    Column("created_at", Epoch, nullable=False),
    Column("updated_at", Epoch, nullable=False),
)

user_groups = Table(
    "user_groups",
    metadata,
    Column("principal_id", String(64), primary_key=True),
    Column("group_name", String(128), nullable=False, unique=True),
    Column("display_name", String(256), nullable=False),
    Column("created_at", Epoch, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("created_at", Epoch, nullable=False),
    # Every call of a signed-in user asks which groups it is in.
    Index("ix_group_members_member", "member_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("principal_id", String(64), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False),  # SHA-256 hex of the secret part
    Column("client_name", String(256), nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("expires_at", Epoch, nullable=False),
    Column("last_used_at", Epoch, nullable=True),
    Column("revoked_at", Epoch, nullable=True),
)

sign_in_keys = Table(
    "sign_in_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("token_id", String(64), nullable=False, index=True),
    Column("expires_at", Epoch, nullable=False, index=True),
)

device_authorizations = Table(
    "device_authorizations",
    metadata,
    Column("device_code_hash", String(64), primary_key=True),
    Column("user_code", String(16), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # PENDING | APPROVED | DENIED | COMPLETED
    Column("client_name", String(256), nullable=False),
    Column("principal_id", String(64), nullable=True),  # who approved it
    Column("created_at", Epoch, nullable=False),
    Column("expires_at", Epoch, nullable=False, index=True),
    Column("last_polled_at", Epoch, nullable=True),
)

# 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the 64-bit rowid already.
_FailureId = BigInteger().with_variant(Integer(), "sqlite")

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("failure_id", _FailureId, primary_key=True, autoincrement=True),
    Column("user_name", String(128), nullable=False),
    Column("address", String(64), nullable=False),
    Column("failed_at", Epoch, nullable=False),
    Index("ix_sign_in_failures_who", "user_name", "address", "failed_at"),
)
