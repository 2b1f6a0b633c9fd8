"""The aws-chunked decoder and the access rule, fed with what botocore really produces."""

from __future__ import annotations

import base64
import zlib

import boto3
import pytest

from _s3_wire import capture
from farmhand.server.object_store import S3Action, S3Error, authorize
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


QUEUE = {"s3": {"bucket": "jobs", "prefix": "Q1/", "access": "readwrite"}}
READ_ONLY = {"s3": {"bucket": "jobs", "prefix": "Q1/", "access": "read"}}


@pytest.mark.parametrize(
    ("scope", "action", "bucket", "key", "allowed"),
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
        ({"s3": {"bucket": "jobs", "prefix": "", "access": "readwrite"}}, S3Action.READ, "jobs", "x", False),
        ({"farmId": "farm-1", "role": "fleet"}, S3Action.READ, "jobs", "Q1/Data/x", False),
        ({}, S3Action.READ, "jobs", "Q1/Data/x", False),
    ],
)
def test_scoped_credentials_reach_only_their_prefix(
    scope: dict[str, object], action: S3Action, bucket: str, key: str, allowed: bool
) -> None:
    if allowed:
        authorize("arn:role", scope, False, action, bucket, key)
        return
    with pytest.raises(S3Error) as denied:
        authorize("arn:role", scope, False, action, bucket, key)
    assert denied.value.code == "AccessDenied"
    assert denied.value.status == 403


def test_admins_may_do_everything_and_unscoped_non_admins_nothing() -> None:
    for action in S3Action:
        authorize("arn:admin", None, True, action, "jobs", "anything")
        with pytest.raises(S3Error):
            authorize("arn:user", None, False, action, "jobs", "anything")
