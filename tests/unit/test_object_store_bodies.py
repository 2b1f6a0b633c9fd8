"""The aws-chunked decoder and the access rule, fed with what botocore really produces."""

from __future__ import annotations

import base64
import zlib

import boto3
import pytest

from _s3_wire import capture
from farmhand.server.access import caller_of, object_allowed, rule_for
from farmhand.server.object_store import S3Action, S3Error
from farmhand.server.object_store._chunked import AwsChunkedDecoder

SESSION = boto3.Session(
    aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-west-2"
)
BODY = bytes(range(256)) * 12_289  # ~3 MiB: several aws-chunks and a short last one


def decode(raw: bytes, piece: int) -> tuple[bytes, dict[str, str]]:
    decoder = AwsChunkedDecoder()
    out = bytearray()
    for offset in range(0, len(raw), piece):
        for view in decoder.feed(raw[offset : offset + piece]):
            out += view
    return bytes(out), decoder.finish()


@pytest.mark.parametrize("piece", [7, 4096, 65536, 10**8])
def test_botocore_trailer_bodies_decode_to_the_payload_and_its_crc32_whatever_the_arrival_sizes(
    piece: int,
) -> None:
    request = capture(SESSION, "http://127.0.0.1:9", lambda c: c.put_object(Bucket="b", Key="k", Body=BODY))
    assert request.headers["Content-Encoding"] == b"aws-chunked"
    payload, trailers = decode(request.body, piece)
    assert payload == BODY
    assert trailers == {
        "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
    }


def test_a_small_trailer_body_decodes_byte_by_byte() -> None:
    request = capture(
        SESSION, "http://127.0.0.1:9", lambda c: c.put_object(Bucket="b", Key="k", Body=b"hello")
    )
    payload, trailers = decode(request.body, 1)
    assert payload == b"hello"
    assert set(trailers) == {"x-amz-checksum-crc32"}


def test_when_required_bodies_are_plain_and_signed() -> None:
    request = capture(
        SESSION,
        "http://127.0.0.1:9",
        lambda c: c.put_object(Bucket="b", Key="k", Body=BODY),
        request_checksum_calculation="when_required",
    )
    assert "Content-Encoding" not in request.headers
    assert request.body == BODY
    assert len(request.headers["X-Amz-Content-SHA256"]) == 64


@pytest.mark.parametrize(
    "raw",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcd\r\n0\r\n\r\n", b"3\nabc\r\n0\r\n\r\n", b"0\r\n\r\nextra"],
    ids=["not-hex", "size-disagrees", "bare-lf", "data-after-end"],
)
def test_broken_framing_is_refused(raw: bytes) -> None:
    with pytest.raises(S3Error) as refused:
        decode(raw, 3)
    assert refused.value.code == "InvalidRequest"


def test_a_body_cut_before_its_final_chunk_is_incomplete() -> None:
    with pytest.raises(S3Error) as cut:
        decode(b"3\r\nabc\r\n", 100)
    assert cut.value.code == "IncompleteBody"


BASE = {"farmId": "farm-1", "queueId": "queue-1"}
QUEUE = {**BASE, "role": "user", "s3": {"bucket": "jobs", "prefix": "Q1/", "access": "readwrite"}}
READ_ONLY = {**BASE, "role": "read", "s3": {"bucket": "jobs", "prefix": "Q1/", "access": "read"}}


def allowed(
    scope: dict[str, object] | None, action: S3Action, bucket: str, key: str, *, admin: bool = False
) -> bool:
    """The access table's answer for an object-store request signed with credentials of this scope."""
    caller = caller_of("admin" if admin else "p", "arn", "user" if scope is None else "queue-role", scope)
    return object_allowed(caller, rule_for("s3", action.value), action.value, bucket, key)


@pytest.mark.parametrize(
    ("scope", "action", "bucket", "key", "expected"),
    [
        (QUEUE, S3Action.WRITE, "jobs", "Q1/Data/x", True),
        (QUEUE, S3Action.READ, "jobs", "Q1/Data/x", True),
        (QUEUE, S3Action.LIST, "jobs", "Q1/Manifests/", True),
        (QUEUE, S3Action.HEAD_BUCKET, "jobs", "", True),
        (QUEUE, S3Action.WRITE, "jobs", "Q2/Data/x", False),
        (QUEUE, S3Action.WRITE, "jobs", "Q1", False),
        (QUEUE, S3Action.WRITE, "jobs", "Q1-evil/x", False),
        (QUEUE, S3Action.LIST, "jobs", "", False),
        (QUEUE, S3Action.READ, "other", "Q1/Data/x", False),
        (QUEUE, S3Action.CREATE_BUCKET, "jobs", "", False),
        (QUEUE, S3Action.LIST_BUCKETS, "", "", False),
        (QUEUE, S3Action.DELETE_BUCKET, "jobs", "", False),
        (READ_ONLY, S3Action.READ, "jobs", "Q1/Data/x", True),
        (READ_ONLY, S3Action.LIST, "jobs", "Q1/", True),
        (READ_ONLY, S3Action.WRITE, "jobs", "Q1/Data/x", False),
        (
            {**QUEUE, "s3": {"bucket": "jobs", "prefix": "", "access": "readwrite"}},
            S3Action.READ,
            "jobs",
            "x",
            False,
        ),
        ({**QUEUE, "role": "read"}, S3Action.WRITE, "jobs", "Q1/Data/x", False),
        (
            {"farmId": "farm-1", "fleetId": "fleet-1", "workerId": "w", "role": "fleet"},
            S3Action.READ,
            "jobs",
            "Q1/Data/x",
            False,
        ),
        ({**BASE, "role": "user"}, S3Action.READ, "jobs", "Q1/Data/x", False),
    ],
)
def test_scoped_credentials_reach_only_their_prefix(
    scope: dict[str, object], action: S3Action, bucket: str, key: str, expected: bool
) -> None:
    assert allowed(scope, action, bucket, key) is expected


def test_admins_may_do_everything_and_users_nothing() -> None:
    for action in S3Action:
        assert allowed(None, action, "jobs", "anything", admin=True)
        assert not allowed(None, action, "jobs", "anything")
