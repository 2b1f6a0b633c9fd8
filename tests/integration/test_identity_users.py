"""Users and groups of the farm's identity store: the `farmhand user/group` CLI and the identity API."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from cli_farm import CliWorkstation, make_workstation

from farmhand._models import add_models_to
from farmhand.testing import ServerProcess

PRINCIPAL_ID = re.compile(r"[0-9a-f]{10}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IDENTITY_STORE_ID = re.compile(r"d-[0-9a-f]{10}")


def identity_client(server: ServerProcess, session: Any = None) -> Any:
    session = session or server.boto3_session()
    add_models_to(session._session)
    return server.client("farmhand-identity", session=session)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def station(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> CliWorkstation:
    return make_workstation(server, tmp_path_factory.mktemp("identity-cli"))


def test_user_create_prints_an_identity_store_principal_id(station: CliWorkstation) -> None:
    name = unique("alice")

    created = station.run("user", "create", name, "--password-stdin", "--json", input="correct horse\n")

    assert created.exit_code == 0, created.output
    doc = json.loads(created.output)
    assert doc["userName"] == name
    assert PRINCIPAL_ID.fullmatch(doc["principalId"])
    assert IDENTITY_STORE_ID.fullmatch(doc["identityStoreId"])
    # Ids carry the store's digits, as an AWS identity store's do.
    assert doc["principalId"].startswith(doc["identityStoreId"][2:] + "-")
    listed = json.loads(station.run("user", "list", "--json").output)["users"]
    assert [(u["principalId"], u["status"]) for u in listed if u["userName"] == name] == [
        (doc["principalId"], "ENABLED")
    ]


def test_groups_hold_users(station: CliWorkstation) -> None:
    user, group = unique("bob"), unique("artists")
    assert station.run("user", "create", user, "--password-stdin", input="long enough\n").exit_code == 0

    created = station.run("group", "create", group, "--json")
    added = station.run("group", "add-member", group, user)

    assert created.exit_code == 0 and added.exit_code == 0, created.output + added.output
    group_id = json.loads(created.output)["principalId"]
    assert PRINCIPAL_ID.fullmatch(group_id)
    members = json.loads(station.run("group", "members", group, "--json").output)["members"]
    assert [m["userName"] for m in members] == [user]
    shown = json.loads(station.run("user", "get", user, "--json").output)
    assert [g["principalId"] for g in shown["groups"]] == [group_id]

    assert station.run("group", "remove-member", group, user).exit_code == 0
    assert json.loads(station.run("group", "members", group, "--json").output)["members"] == []
    assert station.run("group", "delete", group).exit_code == 0
    assert group not in station.run("group", "list").output


def test_disable_enable_and_delete(station: CliWorkstation) -> None:
    name = unique("carol")
    station.run("user", "create", name, "--password-stdin", input="long enough\n")

    assert station.run("user", "disable", name).exit_code == 0
    assert json.loads(station.run("user", "get", name, "--json").output)["status"] == "DISABLED"
    assert station.run("user", "enable", name).exit_code == 0
    assert json.loads(station.run("user", "get", name, "--json").output)["status"] == "ENABLED"
    assert station.run("user", "set-password", name, "--password-stdin", input="another one\n").exit_code == 0
    assert station.run("user", "delete", name).exit_code == 0

    gone = station.run("user", "get", name)
    assert gone.exit_code == 1
    assert "ResourceNotFoundException" in gone.output and name in gone.output


def test_bad_requests_are_refused_with_the_reason(server: ServerProcess, station: CliWorkstation) -> None:
    client = identity_client(server)
    name = unique("dave")
    client.create_user(userName=name, password="long enough")

    with pytest.raises(ClientError) as taken:
        client.create_user(userName=name, password="long enough")
    assert taken.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as reserved:
        client.create_user(userName="admin", password="long enough")
    assert reserved.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ParamValidationError):  # botocore checks the model's minimum first
        client.create_user(userName=unique("erin"), password="short")
    with pytest.raises(ClientError) as no_group:
        client.add_group_member(groupName=unique("nobody"), userName=name)
    assert no_group.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The CLI refuses to read a password from a pipe without --password-stdin.
    refused = station.run("user", "create", unique("frank"), input="long enough\n")
    assert refused.exit_code == 2 and "--password-stdin" in refused.output


def test_the_server_validates_what_botocore_would(server: ServerProcess) -> None:
    """A client that skips botocore's checks still gets a ValidationException naming the member."""
    raw = server.client("farmhand-identity", session=_unvalidated_session(server))

    with pytest.raises(ClientError) as short:
        raw.create_user(userName=unique("gina"), password="short")
    with pytest.raises(ClientError) as bad_name:
        raw.create_user(userName="no spaces allowed", password="long enough")

    assert short.value.response["Error"]["Code"] == "ValidationException"
    assert "password" in short.value.response["Error"]["Message"]
    assert bad_name.value.response["Error"]["Code"] == "ValidationException"
    assert "userName" in bad_name.value.response["Error"]["Message"]


def _unvalidated_session(server: ServerProcess) -> Any:
    session = server.boto3_session()
    add_models_to(session._session)
    session._session.set_default_client_config(Config(parameter_validation=False))
    return session


def test_only_the_admin_manages_users(server: ServerProcess, deadline: Any) -> None:
    farm_id = deadline.create_farm(displayName="identity access")["farmId"]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="q")["queueId"]
    creds = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    queue_session = boto3.Session(
        aws_access_key_id=creds["accessKeyId"],
        aws_secret_access_key=creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"],
        region_name="us-west-2",
    )
    client = identity_client(server, queue_session)
    name = unique("mallory")

    with pytest.raises(ClientError) as denied:
        client.create_user(userName=name, password="long enough")

    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert name not in [u["userName"] for u in identity_client(server).list_users()["users"]]


def test_passwords_are_stored_only_as_scrypt_hashes(server: ServerProcess) -> None:
    name, password = unique("henry"), "plain text never stored " + uuid.uuid4().hex
    identity_client(server).create_user(userName=name, password=password)

    database = Path(server.data_dir) / "farmhand.db"
    with sqlite3.connect(database) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users WHERE user_name = ?", (name,)).fetchone()
    assert stored.startswith("scrypt$")
    assert password not in stored
    raw = b"".join(path.read_bytes() for path in Path(server.data_dir).glob("farmhand.db*"))
    assert password.encode() not in raw


def test_lists_page_by_name(server: ServerProcess) -> None:
    client = identity_client(server)
    prefix = unique("page")
    for index in range(5):
        client.create_user(userName=f"{prefix}-{index}", password="long enough")

    seen: list[str] = []
    for page in client.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}):
        seen += [u["userName"] for u in page["users"]]

    assert [n for n in seen if n.startswith(prefix)] == [f"{prefix}-{i}" for i in range(5)]
    assert seen == sorted(seen) and len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "forged",
    [
        "cGFnZS0w",  # base64 of a user name: what the tokens were before they were signed
        "%%%",
        "A" * 2048,
    ],
)
def test_a_paging_token_the_farm_did_not_sign_is_refused(server: ServerProcess, forged: str) -> None:
    client = identity_client(server)
    for index in range(3):
        client.create_user(userName=unique(f"token-{index}"), password="long enough")
    issued = client.list_users(maxResults=1)["nextToken"]
    # A token of ListUsers pages ListUsers only
    assert client.list_users(maxResults=1, nextToken=issued)["users"]
    for call in (
        lambda: client.list_users(nextToken=forged),
        lambda: client.list_groups(nextToken=forged),
        lambda: client.list_groups(nextToken=issued),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "nextToken" in refused.value.response["Error"]["Message"]
