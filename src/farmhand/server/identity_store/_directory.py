"""Users and groups of the farm's identity store: their ids, names, passwords and group memberships.

Principal ids look like an AWS identity store's (`<10 hex of the store>-<uuid>`), so they fit every
`principalId` member of the Deadline Cloud API; the store's id (`d-<10 hex>`) is chosen once per farm
server. Users and groups are also rows of `principals` (kind `user` / `group`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from ...arns import arn
from ..store import (
    access_keys,
    group_members,
    principals,
    refresh_tokens,
    settings,
    sign_in_keys,
    user_groups,
    users,
)
from ._passwords import hash_password

__all__ = [
    "DISABLED",
    "ENABLED",
    "GROUP",
    "RESERVED_USER_NAMES",
    "USER",
    "DirectoryEntry",
    "DirectoryError",
    "GroupRecord",
    "NameTakenError",
    "UnknownNameError",
    "UserRecord",
    "add_member",
    "create_group",
    "create_user",
    "delete_group",
    "delete_user",
    "find_group",
    "find_user",
    "groups_of",
    "groups_of_user",
    "identity_store_id",
    "list_groups",
    "list_members",
    "list_users",
    "lookup_principal",
    "remove_member",
    "revoke_sign_ins",
    "set_password",
    "update_user",
    "user_arn",
]

ENABLED, DISABLED = "ENABLED", "DISABLED"
USER, GROUP = "USER", "GROUP"
# The farm's admin principal is not a directory user; its name stays unambiguous.
RESERVED_USER_NAMES = frozenset({"admin"})
_STORE_SETTING = "identity_store_id"


class DirectoryError(Exception):
    """A request the directory cannot carry out, said in words a user can act on."""


class UnknownNameError(DirectoryError):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} does not exist")
        self.kind = kind
        self.name = name


class NameTakenError(DirectoryError):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"a {kind} named {name!r} already exists")
        self.kind = kind
        self.name = name


@dataclass(frozen=True)
class DirectoryEntry:
    """Who a principal id is: a USER or a GROUP, its name, and (users) whether it may sign in."""

    principal_id: str
    principal_type: str  # USER | GROUP
    name: str
    display_name: str
    enabled: bool


@dataclass(frozen=True)
class UserRecord:
    principal_id: str
    user_name: str
    display_name: str
    status: str
    password_hash: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class GroupRecord:
    principal_id: str
    group_name: str
    display_name: str
    created_at: dt.datetime


def identity_store_id(conn: Connection) -> str:
    """The farm's identity store id (`d-` and 10 hex digits), chosen once and kept."""
    value = conn.execute(select(settings.c.value).where(settings.c.key == _STORE_SETTING)).scalar()
    if value is None:
        value = f"d-{secrets.token_hex(5)}"
        conn.execute(insert(settings).values(key=_STORE_SETTING, value=value))
    return str(value)


def _new_principal_id(conn: Connection) -> str:
    """`<the store's 10 hex>-<uuid4>`, the form of an AWS identity store's user and group ids."""
    return f"{identity_store_id(conn)[2:]}-{uuid.uuid4()}"


def user_arn(account_id: str, user_name: str) -> str:
    """The ARN a signed-in user acts as (its last part, the user name, names its role sessions)."""
    return arn("sts", f"assumed-role/farmhand-user/{user_name}", account=account_id)


def _group_arn(account_id: str, group_name: str) -> str:
    return arn("identitystore", f"group/{group_name}", account=account_id)


def _user_of(row: Any) -> UserRecord:
    return UserRecord(
        row.principal_id,
        row.user_name,
        row.display_name,
        row.status,
        row.password_hash,
        row.created_at,
        row.updated_at,
    )


def _group_of(row: Any) -> GroupRecord:
    return GroupRecord(row.principal_id, row.group_name, row.display_name, row.created_at)


# -- who is this principal, which groups is it in (asked on every call of a user) -----------------


def lookup_principal(conn: Connection, principal_id: str) -> DirectoryEntry | None:
    """The user or group with this id, or None (the admin, role principals and unknown ids)."""
    user = conn.execute(select(users).where(users.c.principal_id == principal_id)).first()
    if user is not None:
        return DirectoryEntry(principal_id, USER, user.user_name, user.display_name, user.status == ENABLED)
    group = conn.execute(select(user_groups).where(user_groups.c.principal_id == principal_id)).first()
    if group is not None:
        return DirectoryEntry(principal_id, GROUP, group.group_name, group.display_name, True)
    return None


def groups_of(conn: Connection, principal_id: str) -> list[str]:
    """The ids of the groups `principal_id` is a member of."""
    return list(
        conn.execute(
            select(group_members.c.group_id).where(group_members.c.member_id == principal_id)
        ).scalars()
    )


# -- users ---------------------------------------------------------------------------------------


def find_user(conn: Connection, user_name: str) -> UserRecord | None:
    row = conn.execute(select(users).where(users.c.user_name == user_name)).first()
    return None if row is None else _user_of(row)


def _require_user(conn: Connection, user_name: str) -> UserRecord:
    user = find_user(conn, user_name)
    if user is None:
        raise UnknownNameError("user", user_name)
    return user


def create_user(
    conn: Connection,
    *,
    account_id: str,
    user_name: str,
    display_name: str | None,
    password: str | None,
    now: dt.datetime,
) -> UserRecord:
    if user_name in RESERVED_USER_NAMES:
        raise NameTakenError("user", user_name)
    if find_user(conn, user_name) is not None:
        raise NameTakenError("user", user_name)
    principal_id = _new_principal_id(conn)
    display = display_name or user_name
    conn.execute(
        insert(principals).values(
            principal_id=principal_id,
            arn=user_arn(account_id, user_name),
            kind="user",
            display_name=display,
            created_at=now,
        )
    )
    conn.execute(
        insert(users).values(
            principal_id=principal_id,
            user_name=user_name,
            display_name=display,
            password_hash=hash_password(password) if password else None,
            status=ENABLED,
            created_at=now,
            updated_at=now,
        )
    )
    return _require_user(conn, user_name)


def list_users(conn: Connection, after: str | None, limit: int) -> list[UserRecord]:
    """Users by name, those after `after` (a keyset page)."""
    stmt = select(users).order_by(users.c.user_name).limit(limit)
    if after is not None:
        stmt = stmt.where(users.c.user_name > after)
    return [_user_of(row) for row in conn.execute(stmt)]


def update_user(
    conn: Connection, user_name: str, *, display_name: str | None, status: str | None, now: dt.datetime
) -> UserRecord:
    """Rename or enable/disable; a disabled user is signed out everywhere at once."""
    user = _require_user(conn, user_name)
    values: dict[str, Any] = {"updated_at": now}
    if display_name is not None:
        values["display_name"] = display_name
        conn.execute(
            update(principals)
            .where(principals.c.principal_id == user.principal_id)
            .values(display_name=display_name)
        )
    if status is not None:
        values["status"] = status
    conn.execute(update(users).where(users.c.principal_id == user.principal_id).values(**values))
    if status == DISABLED:
        revoke_sign_ins(conn, user.principal_id, now)
    return _require_user(conn, user_name)


def set_password(conn: Connection, user_name: str, password: str, now: dt.datetime) -> None:
    user = _require_user(conn, user_name)
    conn.execute(
        update(users)
        .where(users.c.principal_id == user.principal_id)
        .values(password_hash=hash_password(password), updated_at=now)
    )


def delete_user(conn: Connection, user_name: str, now: dt.datetime) -> UserRecord:
    """Remove the user, its group memberships, its refresh tokens and every key it holds."""
    user = _require_user(conn, user_name)
    revoke_sign_ins(conn, user.principal_id, now)
    conn.execute(delete(group_members).where(group_members.c.member_id == user.principal_id))
    conn.execute(delete(users).where(users.c.principal_id == user.principal_id))
    conn.execute(delete(principals).where(principals.c.principal_id == user.principal_id))
    return user


def revoke_sign_ins(conn: Connection, principal_id: str, now: dt.datetime) -> None:
    """Every refresh token of the principal revoked, every key it signs with deleted."""
    conn.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.principal_id == principal_id, refresh_tokens.c.revoked_at.is_(None)))
        .values(revoked_at=now)
    )
    conn.execute(delete(access_keys).where(access_keys.c.principal_id == principal_id))
    tokens = select(refresh_tokens.c.token_id).where(refresh_tokens.c.principal_id == principal_id)
    conn.execute(delete(sign_in_keys).where(sign_in_keys.c.token_id.in_(tokens)))


# -- groups --------------------------------------------------------------------------------------


def find_group(conn: Connection, group_name: str) -> GroupRecord | None:
    row = conn.execute(select(user_groups).where(user_groups.c.group_name == group_name)).first()
    return None if row is None else _group_of(row)


def _require_group(conn: Connection, group_name: str) -> GroupRecord:
    group = find_group(conn, group_name)
    if group is None:
        raise UnknownNameError("group", group_name)
    return group


def create_group(
    conn: Connection, *, account_id: str, group_name: str, display_name: str | None, now: dt.datetime
) -> GroupRecord:
    if find_group(conn, group_name) is not None:
        raise NameTakenError("group", group_name)
    principal_id = _new_principal_id(conn)
    display = display_name or group_name
    conn.execute(
        insert(principals).values(
            principal_id=principal_id,
            arn=_group_arn(account_id, group_name),
            kind="group",
            display_name=display,
            created_at=now,
        )
    )
    conn.execute(
        insert(user_groups).values(
            principal_id=principal_id, group_name=group_name, display_name=display, created_at=now
        )
    )
    return _require_group(conn, group_name)


def list_groups(conn: Connection, after: str | None, limit: int) -> list[GroupRecord]:
    stmt = select(user_groups).order_by(user_groups.c.group_name).limit(limit)
    if after is not None:
        stmt = stmt.where(user_groups.c.group_name > after)
    return [_group_of(row) for row in conn.execute(stmt)]


def groups_of_user(conn: Connection, principal_id: str) -> list[GroupRecord]:
    rows = conn.execute(
        select(user_groups)
        .join(group_members, group_members.c.group_id == user_groups.c.principal_id)
        .where(group_members.c.member_id == principal_id)
        .order_by(user_groups.c.group_name)
    )
    return [_group_of(row) for row in rows]


def delete_group(conn: Connection, group_name: str) -> GroupRecord:
    group = _require_group(conn, group_name)
    conn.execute(delete(group_members).where(group_members.c.group_id == group.principal_id))
    conn.execute(delete(user_groups).where(user_groups.c.principal_id == group.principal_id))
    conn.execute(delete(principals).where(principals.c.principal_id == group.principal_id))
    return group


def add_member(conn: Connection, group_name: str, user_name: str, now: dt.datetime) -> bool:
    """Add the user to the group; False when it was a member already."""
    group = _require_group(conn, group_name)
    user = _require_user(conn, user_name)
    key = and_(group_members.c.group_id == group.principal_id, group_members.c.member_id == user.principal_id)
    if conn.execute(select(group_members.c.group_id).where(key)).first() is not None:
        return False
    conn.execute(
        insert(group_members).values(group_id=group.principal_id, member_id=user.principal_id, created_at=now)
    )
    return True


def remove_member(conn: Connection, group_name: str, user_name: str) -> bool:
    group = _require_group(conn, group_name)
    user = _require_user(conn, user_name)
    removed = conn.execute(
        delete(group_members).where(
            and_(
                group_members.c.group_id == group.principal_id, group_members.c.member_id == user.principal_id
            )
        )
    ).rowcount
    return bool(removed)


def list_members(conn: Connection, group_name: str, after: str | None, limit: int) -> list[UserRecord]:
    group = _require_group(conn, group_name)
    stmt = (
        select(users)
        .join(group_members, group_members.c.member_id == users.c.principal_id)
        .where(group_members.c.group_id == group.principal_id)
        .order_by(users.c.user_name)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(users.c.user_name > after)
    return [_user_of(row) for row in conn.execute(stmt)]
