"""The farm's users and groups (`farmhand-identity` API): created and managed by the farm's admin.

Passwords arrive in the request body (over TLS off the loopback) and are only ever stored as scrypt
hashes. Lists page by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..._models import IDENTITY_SERVICE
from ..identity_store import (
    DirectoryError,
    GroupRecord,
    NameTakenError,
    UnknownNameError,
    UserRecord,
    add_member,
    create_group,
    create_user,
    delete_group,
    delete_user,
    find_user,
    groups_of_user,
    identity_store_id,
    list_groups,
    list_members,
    list_users,
    remove_member,
    set_password,
    update_user,
)
from ..protocol import AccessDeniedError, ConflictError, ResourceNotFoundError, ValidationError
from ._common import decode_token, encode_token
from ._registry import Call, Output, Params, operation

DEFAULT_PAGE = 100
ADMIN_PRINCIPAL_ID = "admin"

Record = TypeVar("Record")


def identity_operation(
    name: str,
) -> Callable[[Callable[[Call, Params], Output]], Callable[[Call, Params], Output]]:
    """Register a handler of the identity API whose directory errors become AWS error answers."""

    def register(handler: Callable[[Call, Params], Output]) -> Callable[[Call, Params], Output]:
        def run(call: Call, params: Params) -> Output:
            _require_directory_manager(call)
            try:
                return handler(call, params)
            except UnknownNameError as error:
                raise ResourceNotFoundError(error.kind, error.name, str(error)) from error
            except NameTakenError as error:
                raise ConflictError(
                    str(error),
                    reason="RESOURCE_ALREADY_EXISTS",
                    resource_type=error.kind,
                    resource_id=error.name,
                ) from error
            except DirectoryError as error:
                raise ValidationError(str(error)) from error

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        operation(name, service=IDENTITY_SERVICE)(run)
        return handler

    return register


def _require_directory_manager(call: Call) -> None:
    """Users and groups are the farm admin's to manage."""
    if call.principal.principal_id != ADMIN_PRINCIPAL_ID:
        raise AccessDeniedError(
            f"{call.principal.arn} is not authorized to perform {IDENTITY_SERVICE}:{call.operation}"
        )


def _page(call: Call, params: Params) -> tuple[str | None, int]:
    """Where the page starts (the name after which it begins) and its size.

    Tokens are signed with the farm secret like every other list's, so a forged one is refused
    before it reaches a query.
    """
    token = params.get("nextToken")
    after = None
    if token:
        (after,) = decode_token(call.conn, _token_purpose(call), token, 1)
        if not isinstance(after, str):
            raise ValidationError.for_field("nextToken", "is not a token this list returned")
    return after, int(params.get("maxResults", DEFAULT_PAGE))


def _paged(
    call: Call, records: Sequence[Record], limit: int, name_of: Callable[[Record], str]
) -> tuple[list[Record], str | None]:
    """Records of one page (one extra was fetched to know whether another page follows)."""
    page = list(records[:limit])
    if len(records) <= limit:
        return page, None
    return page, encode_token(call.conn, _token_purpose(call), [name_of(page[-1])])


def _token_purpose(call: Call) -> str:
    return f"{IDENTITY_SERVICE}:{call.operation}"


def _user_summary(user: UserRecord) -> dict[str, Any]:
    return {
        "principalId": user.principal_id,
        "userName": user.user_name,
        "displayName": user.display_name,
        "status": user.status,
        "createdAt": user.created_at,
        "updatedAt": user.updated_at,
    }


def _group_summary(group: GroupRecord) -> dict[str, Any]:
    return {
        "principalId": group.principal_id,
        "groupName": group.group_name,
        "displayName": group.display_name,
        "createdAt": group.created_at,
    }


@identity_operation("GetIdentityStore")
def get_identity_store(call: Call, params: Params) -> Output:
    return {"identityStoreId": identity_store_id(call.conn)}


@identity_operation("CreateUser")
def create_user_operation(call: Call, params: Params) -> Output:
    user = create_user(
        call.conn,
        account_id=call.account_id,
        user_name=params["userName"],
        display_name=params.get("displayName"),
        password=params.get("password"),
        now=call.now,
    )
    return {
        "principalId": user.principal_id,
        "identityStoreId": identity_store_id(call.conn),
        "userName": user.user_name,
    }


@identity_operation("GetUser")
def get_user_operation(call: Call, params: Params) -> Output:
    user = find_user(call.conn, params["userName"])
    if user is None:
        raise UnknownNameError("user", params["userName"])
    return {
        **_user_summary(user),
        "identityStoreId": identity_store_id(call.conn),
        "groups": [_group_summary(g) for g in groups_of_user(call.conn, user.principal_id)],
    }


@identity_operation("ListUsers")
def list_users_operation(call: Call, params: Params) -> Output:
    after, limit = _page(call, params)
    page, token = _paged(call, list_users(call.conn, after, limit + 1), limit, lambda u: u.user_name)
    return {"users": [_user_summary(u) for u in page], "nextToken": token}


@identity_operation("UpdateUser")
def update_user_operation(call: Call, params: Params) -> Output:
    update_user(
        call.conn,
        params["userName"],
        display_name=params.get("displayName"),
        status=params.get("status"),
        now=call.now,
    )
    return {}


@identity_operation("SetUserPassword")
def set_user_password_operation(call: Call, params: Params) -> Output:
    set_password(call.conn, params["userName"], params["password"], call.now)
    return {}


@identity_operation("DeleteUser")
def delete_user_operation(call: Call, params: Params) -> Output:
    delete_user(call.conn, params["userName"], call.now)
    return {}


@identity_operation("CreateGroup")
def create_group_operation(call: Call, params: Params) -> Output:
    group = create_group(
        call.conn,
        account_id=call.account_id,
        group_name=params["groupName"],
        display_name=params.get("displayName"),
        now=call.now,
    )
    return {
        "principalId": group.principal_id,
        "identityStoreId": identity_store_id(call.conn),
        "groupName": group.group_name,
    }


@identity_operation("ListGroups")
def list_groups_operation(call: Call, params: Params) -> Output:
    after, limit = _page(call, params)
    page, token = _paged(call, list_groups(call.conn, after, limit + 1), limit, lambda g: g.group_name)
    return {"groups": [_group_summary(g) for g in page], "nextToken": token}


@identity_operation("DeleteGroup")
def delete_group_operation(call: Call, params: Params) -> Output:
    delete_group(call.conn, params["groupName"])
    return {}


@identity_operation("AddGroupMember")
def add_group_member_operation(call: Call, params: Params) -> Output:
    add_member(call.conn, params["groupName"], params["userName"], call.now)
    return {}


@identity_operation("RemoveGroupMember")
def remove_group_member_operation(call: Call, params: Params) -> Output:
    if not remove_member(call.conn, params["groupName"], params["userName"]):
        raise DirectoryError(f"user {params['userName']!r} is not a member of group {params['groupName']!r}")
    return {}


@identity_operation("ListGroupMembers")
def list_group_members_operation(call: Call, params: Params) -> Output:
    after, limit = _page(call, params)
    records = list_members(call.conn, params["groupName"], after, limit + 1)
    page, token = _paged(call, records, limit, lambda u: u.user_name)
    return {"members": [_user_summary(u) for u in page], "nextToken": token}
