"""`farmhand user ...` and `farmhand group ...`: the farm's users and groups (the farm admin's profile)."""

from __future__ import annotations

from typing import Any

import click

from ._common import every_item, load_config, profile_option
from ._output import emit_json, json_option, out_console, print_record, print_table
from ._passwords import password_stdin_option, read_password

__all__ = ["group_group", "user_group"]

_USER_COLUMNS = [
    ("userName", "User"),
    ("displayName", "Display name"),
    ("principalId", "Principal ID"),
    ("status", "Status"),
]


def _client(profile: str | None) -> Any:
    from ..sign_in import identity_client

    return identity_client(load_config(profile=profile))


@click.group("user")
def user_group() -> None:
    """Create and manage the farm's users (signs with the farm admin's profile)."""


@user_group.command("create")
@click.argument("name")
@click.option("--display-name", help="The name people see (default: NAME).")
@password_stdin_option
@profile_option
@json_option
def user_create(
    name: str, display_name: str | None, password_stdin: bool, profile: str | None, as_json: bool
) -> None:
    """Create the user NAME with a password; prints its principal id and the farm's identity store id."""
    password = read_password(password_stdin, prompt=f"Password for {name}", confirm=True)
    request: dict[str, Any] = {"userName": name, "password": password}
    if display_name:
        request["displayName"] = display_name
    created = _client(profile).create_user(**request)
    result = {k: created[k] for k in ("userName", "principalId", "identityStoreId")}
    if as_json:
        emit_json(result)
    else:
        print_record(result)


@user_group.command("list")
@profile_option
@json_option
def user_list(profile: str | None, as_json: bool) -> None:
    """Every user of the farm."""
    users = every_item(_client(profile), "list_users", "users")
    if as_json:
        emit_json({"users": users})
    else:
        print_table(users, _USER_COLUMNS, empty_message="No users.")


@user_group.command("get")
@click.argument("name")
@profile_option
@json_option
def user_get(name: str, profile: str | None, as_json: bool) -> None:
    """One user, with its groups."""
    user = _client(profile).get_user(userName=name)
    user.pop("ResponseMetadata", None)
    if as_json:
        emit_json(user)
    else:
        user["groups"] = ", ".join(g["groupName"] for g in user["groups"]) or "-"
        print_record(user)


def _set_status(name: str, status: str, profile: str | None) -> None:
    _client(profile).update_user(userName=name, status=status)
    out_console().print(f"User {name} is {status}.")


@user_group.command("disable")
@click.argument("name")
@profile_option
def user_disable(name: str, profile: str | None) -> None:
    """Stop NAME from signing in; its refresh tokens and credentials stop working at once."""
    _set_status(name, "DISABLED", profile)


@user_group.command("enable")
@click.argument("name")
@profile_option
def user_enable(name: str, profile: str | None) -> None:
    """Let a disabled user sign in again."""
    _set_status(name, "ENABLED", profile)


@user_group.command("delete")
@click.argument("name")
@profile_option
def user_delete(name: str, profile: str | None) -> None:
    """Delete NAME; its refresh tokens and credentials stop working at once."""
    _client(profile).delete_user(userName=name)
    out_console().print(f"User {name} deleted.")


@user_group.command("set-password")
@click.argument("name")
@password_stdin_option
@profile_option
def user_set_password(name: str, password_stdin: bool, profile: str | None) -> None:
    """Set NAME's password."""
    password = read_password(password_stdin, prompt=f"New password for {name}", confirm=True)
    _client(profile).set_user_password(userName=name, password=password)
    out_console().print(f"Password of {name} set.")


@click.group("group")
def group_group() -> None:
    """Create groups of users and manage their members (signs with the farm admin's profile)."""


@group_group.command("create")
@click.argument("name")
@click.option("--display-name", help="The name people see (default: NAME).")
@profile_option
@json_option
def group_create(name: str, display_name: str | None, profile: str | None, as_json: bool) -> None:
    """Create the group NAME; prints its principal id and the farm's identity store id."""
    request: dict[str, Any] = {"groupName": name}
    if display_name:
        request["displayName"] = display_name
    created = _client(profile).create_group(**request)
    result = {k: created[k] for k in ("groupName", "principalId", "identityStoreId")}
    if as_json:
        emit_json(result)
    else:
        print_record(result)


@group_group.command("list")
@profile_option
@json_option
def group_list(profile: str | None, as_json: bool) -> None:
    """Every group of the farm."""
    groups = every_item(_client(profile), "list_groups", "groups")
    if as_json:
        emit_json({"groups": groups})
    else:
        print_table(
            groups,
            [("groupName", "Group"), ("displayName", "Display name"), ("principalId", "Principal ID")],
            empty_message="No groups.",
        )


@group_group.command("delete")
@click.argument("name")
@profile_option
def group_delete(name: str, profile: str | None) -> None:
    """Delete the group NAME (its users stay)."""
    _client(profile).delete_group(groupName=name)
    out_console().print(f"Group {name} deleted.")


@group_group.command("add-member")
@click.argument("group")
@click.argument("user")
@profile_option
def group_add_member(group: str, user: str, profile: str | None) -> None:
    """Add the user USER to GROUP."""
    _client(profile).add_group_member(groupName=group, userName=user)
    out_console().print(f"{user} is a member of {group}.")


@group_group.command("remove-member")
@click.argument("group")
@click.argument("user")
@profile_option
def group_remove_member(group: str, user: str, profile: str | None) -> None:
    """Remove the user USER from GROUP."""
    _client(profile).remove_group_member(groupName=group, userName=user)
    out_console().print(f"{user} is no longer a member of {group}.")


@group_group.command("members")
@click.argument("group")
@profile_option
@json_option
def group_members(group: str, profile: str | None, as_json: bool) -> None:
    """The users of GROUP."""
    members = every_item(_client(profile), "list_group_members", "members", groupName=group)
    if as_json:
        emit_json({"members": members})
    else:
        print_table(members, _USER_COLUMNS, empty_message=f"No members in {group}.")
