"""Bad input gets the AWS error code it deserves, and the server keeps serving after each."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from _management import store_of
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from farmhand.server._identity import record_temporary_credentials
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


@pytest.fixture(autouse=True)
def still_serving(server: ServerProcess) -> Iterator[None]:
    """After every bad request, a good one still succeeds."""
    yield
    farm_id = server.client("deadline").create_farm(displayName="still serving")["farmId"]
    assert server.client("deadline").get_farm(farmId=farm_id)["displayName"] == "still serving"


def _raw(
    server: ServerProcess,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    secret: str | None = None,
    sign: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request signed with botocore's own SigV4 signer, sent without botocore's checks."""
    url = server.url + path
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    if sign:
        admin = server.admin
        credentials = Credentials(admin.access_key_id, secret or admin.secret_access_key)
        SigV4Auth(credentials, "deadline", "us-west-2").add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=dict(prepared.headers))
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_unsigned_request(server: ServerProcess) -> None:
    status, headers, _ = _raw(server, "GET", "/2023-10-12/farms", sign=False)
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    unsigned = server.client("deadline", session=server.boto3_session(), signature_version=UNSIGNED)
    with pytest.raises(ClientError) as info:
        unsigned.list_farms()
    assert _code(info) == "MissingAuthenticationTokenException"


def test_wrong_secret(server: ServerProcess) -> None:
    session = boto3.Session(
        aws_access_key_id=server.admin.access_key_id,
        aws_secret_access_key="not-the-secret-" + secrets.token_hex(8),
        region_name="us-west-2",
    )
    with pytest.raises(ClientError) as info:
        server.client("deadline", session=session).list_farms()
    assert _code(info) == "InvalidSignatureException"


def test_unknown_access_key(server: ServerProcess) -> None:
    session = boto3.Session(
        aws_access_key_id="AKIAUNKNOWNUNKNOWN00", aws_secret_access_key="x", region_name="us-west-2"
    )
    with pytest.raises(ClientError) as info:
        server.client("deadline", session=session).list_farms()
    assert _code(info) == "UnrecognizedClientException"


def test_expired_temporary_credentials(server_any: ServerProcess, server: ServerProcess) -> None:
    # Given temporary credentials of the admin that expired a minute ago, written straight to the store
    key_id, secret, token = (
        "ASIA" + secrets.token_hex(8).upper(),
        secrets.token_hex(20),
        secrets.token_hex(40),
    )
    now = dt.datetime.now(dt.UTC)
    store = store_of(server_any)
    try:
        with store.write() as conn:
            record_temporary_credentials(
                conn,
                "admin",
                {},
                access_key_id=key_id,
                secret_access_key=secret,
                session_token=token,
                expires=now - dt.timedelta(minutes=1),
            )
    finally:
        store.dispose()
    session = boto3.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-west-2",
    )
    # When they sign a call
    with pytest.raises(ClientError) as info:
        server_any.client("deadline", session=session).list_farms()
    # Then the server says they expired
    assert _code(info) == "ExpiredTokenException"
    # And a wrong session token with the right key is not recognised
    wrong = boto3.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token="nope",
        region_name="us-west-2",
    )
    with pytest.raises(ClientError) as bad_token:
        server_any.client("deadline", session=wrong).list_farms()
    assert _code(bad_token) == "UnrecognizedClientException"


def test_missing_required_member(server: ServerProcess) -> None:
    lax = server.client("deadline", parameter_validation=False)
    with pytest.raises(ClientError) as info:
        lax.create_farm(description="no display name")
    assert _code(info) == "ValidationException"
    assert info.value.response["reason"] == "FIELD_VALIDATION_FAILED"
    assert info.value.response["fieldList"][0]["name"] == "displayName"


def test_every_bad_member_is_named_in_one_answer(server: ServerProcess, farm_id: str) -> None:
    # Given a request with two bad members, sent without the client's own checks
    lax = server.client("deadline", parameter_validation=False)
    with pytest.raises(ClientError) as info:
        lax.create_queue(farmId=farm_id, displayName="x" * 101, defaultBudgetAction="SPEND_MORE")
    # Then one ValidationException names each of them
    assert _code(info) == "ValidationException"
    names = [field["name"] for field in info.value.response["fieldList"]]
    assert sorted(names) == ["defaultBudgetAction", "displayName"]
    assert info.value.response["Error"]["Message"].startswith("2 validation errors")


def test_enum_violation(server: ServerProcess, deadline: Any, farm_id: str) -> None:
    with pytest.raises(ClientError) as info:
        deadline.create_storage_profile(farmId=farm_id, displayName="sp", osFamily="BEOS")
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "osFamily"


def test_over_long_name(deadline: Any) -> None:
    with pytest.raises(ClientError) as info:
        deadline.create_farm(displayName="x" * 101)
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "displayName"


def test_max_results_over_100(deadline: Any) -> None:
    with pytest.raises(ClientError) as info:
        deadline.list_farms(maxResults=101)
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "maxResults"


@pytest.mark.parametrize("token", ["garbage", "eyJhIjoxfQ", "W10"])
def test_bad_next_token(deadline: Any, farm_id: str, token: str) -> None:
    for call in (
        lambda: deadline.list_farms(nextToken=token),
        lambda: deadline.list_queues(farmId=farm_id, nextToken=token),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert _code(info) == "ValidationException"
        assert info.value.response["fieldList"][0]["name"] == "nextToken"


def test_unknown_farm_id(deadline: Any) -> None:
    missing = "farm-" + "0" * 32
    with pytest.raises(ClientError) as info:
        deadline.get_farm(farmId=missing)
    assert _code(info) == "ResourceNotFoundException"
    assert (info.value.response["resourceId"], info.value.response["resourceType"]) == (missing, "farm")
    with pytest.raises(ClientError) as queues:
        deadline.list_queues(farmId=missing)
    assert _code(queues) == "ResourceNotFoundException"


def test_malformed_json_body(server: ServerProcess) -> None:
    status, headers, body = _raw(server, "POST", "/2023-10-12/farms", b'{"displayName": "x",')
    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert json.loads(body)["reason"] == "CANNOT_PARSE"
    status, headers, body = _raw(server, "POST", "/2023-10-12/farms", b'["a list"]')
    assert (status, json.loads(body)["reason"]) == (400, "CANNOT_PARSE")


def test_twenty_mebibyte_body(server: ServerProcess) -> None:
    # Given a signed CreateFarm whose body is 20 MiB
    body = json.dumps({"displayName": "big", "description": "x" * (20 * 1024 * 1024)}).encode()
    # When it is sent
    status, headers, answer = _raw(server, "POST", "/2023-10-12/farms", body)
    # Then the server refuses it as too large, with a message
    assert (status, headers["x-amzn-errortype"]) == (413, "RequestEntityTooLargeException")
    assert "limit" in json.loads(answer)["message"]


def test_twenty_mebibyte_chunked_body(server: ServerProcess) -> None:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    chunks = (b"x" * (1024 * 1024) for _ in range(20))
    try:
        connection.request("POST", "/2023-10-12/farms", body=chunks, encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, response.getheader("x-amzn-ErrorType")) == (
            413,
            "RequestEntityTooLargeException",
        )
    finally:
        connection.close()


def test_clock_skew_over_15_minutes(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: skewed)
    client = server.client("deadline", retries={"max_attempts": 1})
    with pytest.raises(ClientError) as info:
        client.list_farms()
    assert _code(info) == "InvalidSignatureException"
    assert "expired" in info.value.response["Error"]["Message"].lower()
    monkeypatch.undo()
    # Within the window the same client is fine
    assert "farms" in client.list_farms()


def test_clock_skew_within_15_minutes_is_accepted(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=14)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: skewed)
    assert "farms" in server.client("deadline").list_farms()


@pytest.mark.parametrize("farm_id", ["../../etc/passwd", "..", "farm-../../x", "farm-%2e%2e"])
def test_path_traversal_in_ids(deadline: Any, farm_id: str) -> None:
    with pytest.raises(ClientError) as info:
        deadline.get_farm(farmId=farm_id)
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "farmId"


def test_raw_traversal_path_is_not_served(server: ServerProcess) -> None:
    status, headers, _ = _raw(server, "GET", "/2023-10-12/farms/..%2F..%2Fetc%2Fpasswd")
    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    status, _, _ = _raw(server, "GET", "/2023-10-12/../../etc/passwd")
    assert status in (400, 403, 404)


def test_unsigned_client_config_does_not_leak_data(server: ServerProcess) -> None:
    anonymous = boto3.Session(region_name="us-west-2").client(
        "deadline",
        endpoint_url=server.url,
        config=Config(signature_version=UNSIGNED, inject_host_prefix=False),
    )
    with pytest.raises(ClientError) as info:
        anonymous.get_farm(farmId="farm-" + "0" * 32)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
