"""The farm's S3 endpoint beyond what every S3 store shares: bad input is refused with S3's error and
stores nothing, credentials reach only their scope, and bodies framed the ways botocore frames them
(aws-chunked with a CRC32 trailer, unsigned payloads) are decoded and verified."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import uuid
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from _s3_wire import capture, replay
from farmhand.server._identity import ensure_principal, mint_temporary_credentials
from farmhand.testing import ServerProcess

MIB1 = 1024 * 1024
MIB2 = 2 * MIB1


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture
def bucket(farm_s3: Any) -> str:
    name = f"farm-{uuid.uuid4().hex[:16]}"
    farm_s3.create_bucket(Bucket=name)
    return name


def assert_absent(s3: Any, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key=key)
    assert error_code(missing) == "404"


def scoped_session(
    server: ServerProcess, scope: dict[str, Any], lifetime_hours: float = 1.0
) -> boto3.Session:
    """Temporary credentials with `scope`, minted into the farm's store as the queue roles mint them."""
    store = server.open_store()
    try:
        with store.write() as conn:
            ensure_principal(
                conn,
                "s3-test-role",
                f"arn:aws:sts::{server.admin.account_id}:assumed-role/S3Test",
                "role",
                "S3Test",
            )
            creds = mint_temporary_credentials(
                conn, "s3-test-role", scope, dt.timedelta(hours=lifetime_hours)
            )
    finally:
        store.engine.dispose()
    return boto3.Session(
        aws_access_key_id=creds["accessKeyId"],
        aws_secret_access_key=creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"],
        region_name="us-west-2",
    )


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("Root/../escape", "InvalidArgument"),
        ("Root/./here", "InvalidArgument"),
        ("Root//empty", "InvalidArgument"),
        ("/absolute", "InvalidArgument"),
        ("Root/nul\x00byte", "InvalidArgument"),
        ("Root/" + "k" * 1100, "KeyTooLongError"),
    ],
)
def test_keys_that_could_escape_or_are_too_long_are_refused(
    farm_s3: Any, bucket: str, key: str, code: str
) -> None:
    with pytest.raises(ClientError) as refused:
        farm_s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert error_code(refused) == code
    assert "Contents" not in farm_s3.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "under_score", "-leading", "192.168.1.1", "a" * 64])
def test_invalid_bucket_names_are_refused(farm_s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as refused:
        farm_s3.create_bucket(Bucket=name)
    assert error_code(refused) == "InvalidBucketName"


def test_a_bucket_with_objects_is_not_deleted(farm_s3: Any, bucket: str) -> None:
    farm_s3.put_object(Bucket=bucket, Key="k/v", Body=b"x")
    with pytest.raises(ClientError) as not_empty:
        farm_s3.delete_bucket(Bucket=bucket)
    assert error_code(not_empty) == "BucketNotEmpty"
    assert farm_s3.get_object(Bucket=bucket, Key="k/v")["Body"].read() == b"x"


def test_a_wrong_crc32_is_bad_digest_and_stores_nothing(farm_s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        farm_s3.put_object(Bucket=bucket, Key="Root/Data/x", Body=b"payload", ChecksumCRC32="AAAAAA==")
    assert error_code(refused) == "BadDigest"
    assert_absent(farm_s3, bucket, "Root/Data/x")


@pytest.mark.parametrize("size", [1000, 600 * 1024])  # kept in the index / staged as a blob
def test_a_body_that_is_not_the_signed_payload_is_refused(
    server: ServerProcess, farm_s3: Any, bucket: str, size: int
) -> None:
    body = b"a" * size
    request = capture(
        server.boto3_session(),
        server.url,
        lambda c: c.put_object(Bucket=bucket, Key="t/x", Body=body),
        tls=False,
    )
    status, _headers, answer = replay(server.url, request, body=b"b" * size)
    assert status == 400
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in answer
    assert_absent(farm_s3, bucket, "t/x")


def test_a_body_shorter_than_its_content_length_stores_nothing_and_the_server_keeps_serving(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    request = capture(
        server.boto3_session(),
        server.url,
        lambda c: c.put_object(Bucket=bucket, Key="short/x", Body=b"z" * 300_000),
        tls=False,
    )
    with send_head(server, request, {}) as sock:
        sock.sendall(request.body[:100_000])
    assert_absent(farm_s3, bucket, "short/x")
    farm_s3.put_object(Bucket=bucket, Key="short/after", Body=b"still serving")
    assert farm_s3.get_object(Bucket=bucket, Key="short/after")["Body"].read() == b"still serving"


def test_unsigned_and_expired_requests_store_nothing(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    anonymous = boto3.Session(region_name="us-west-2").client(
        "s3", endpoint_url=server.url, config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as unsigned:
        anonymous.put_object(Bucket=bucket, Key="anon/x", Body=b"x")
    assert 400 <= unsigned.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500

    expired = scoped_session(
        server, {"s3": {"bucket": bucket, "prefix": "anon/", "access": "readwrite"}}, lifetime_hours=-1
    ).client("s3", endpoint_url=server.url)
    with pytest.raises(ClientError) as too_late:
        expired.put_object(Bucket=bucket, Key="anon/x", Body=b"x")
    assert error_code(too_late) == "ExpiredToken"

    wrong_secret = boto3.Session(
        aws_access_key_id=server.admin.access_key_id,
        aws_secret_access_key="not-the-secret",
        region_name="us-west-2",
    ).client("s3", endpoint_url=server.url)
    with pytest.raises(ClientError) as forged:
        wrong_secret.put_object(Bucket=bucket, Key="anon/x", Body=b"x")
    assert error_code(forged) == "SignatureDoesNotMatch"
    assert_absent(farm_s3, bucket, "anon/x")


def test_a_declared_size_over_the_limit_is_refused_before_the_body(tmp_path: Any) -> None:
    with ServerProcess(tmp_path / "limited", extra_args=["--max-object-bytes", "1048576"]) as server:
        s3 = server.boto3_session().client("s3", endpoint_url=server.url)
        s3.create_bucket(Bucket="limited")
        s3.put_object(Bucket="limited", Key="ok/x", Body=b"x" * 1048576)
        with pytest.raises(ClientError) as too_large:
            s3.put_object(Bucket="limited", Key="big/x", Body=b"x" * 1048577)
        assert error_code(too_large) == "EntityTooLarge"
        assert_absent(s3, "limited", "big/x")


def test_the_expected_bucket_owner_must_be_the_farms_account(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    farm_s3.put_object(Bucket=bucket, Key="own/x", Body=b"x", ExpectedBucketOwner=server.admin.account_id)
    with pytest.raises(ClientError) as other_owner:
        farm_s3.get_object(Bucket=bucket, Key="own/x", ExpectedBucketOwner="123456789012")
    assert error_code(other_owner) == "AccessDenied"


def test_an_empty_object_with_a_range_is_invalid_range(farm_s3: Any, bucket: str) -> None:
    farm_s3.put_object(Bucket=bucket, Key="empty/x", Body=b"")
    with pytest.raises(ClientError) as empty:
        farm_s3.get_object(Bucket=bucket, Key="empty/x", Range="bytes=0-8388607")
    assert error_code(empty) == "InvalidRange"
    assert farm_s3.get_object(Bucket=bucket, Key="empty/x")["Body"].read() == b""


# -- scoped credentials ---------------------------------------------------------------------------


def test_queue_credentials_reach_only_their_bucket_prefix(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    other_bucket = f"farm-{uuid.uuid4().hex[:16]}"
    farm_s3.create_bucket(Bucket=other_bucket)
    farm_s3.put_object(Bucket=bucket, Key="QueueB/Data/secret", Body=b"other queue")
    # Queue A keeps its attachments under QueueA/ of the bucket; its user and read credentials
    deadline = server.client("deadline")
    farm = deadline.create_farm(displayName="object store access")["farmId"]
    settings = {"s3BucketName": bucket, "rootPrefix": "QueueA"}
    queue = deadline.create_queue(farmId=farm, displayName="A", jobAttachmentSettings=settings)["queueId"]
    writer = queue_session(deadline.assume_queue_role_for_user(farmId=farm, queueId=queue)).client(
        "s3", endpoint_url=server.url
    )
    reader = queue_session(deadline.assume_queue_role_for_read(farmId=farm, queueId=queue)).client(
        "s3", endpoint_url=server.url
    )
    fleet = scoped_session(server, {"farmId": "farm-x", "fleetId": "fleet-x", "role": "fleet"}).client(
        "s3", endpoint_url=server.url
    )

    writer.put_object(Bucket=bucket, Key="QueueA/Data/mine", Body=b"mine")
    assert reader.get_object(Bucket=bucket, Key="QueueA/Data/mine")["Body"].read() == b"mine"
    assert [c["Key"] for c in reader.list_objects_v2(Bucket=bucket, Prefix="QueueA/")["Contents"]] == [
        "QueueA/Data/mine"
    ]
    with pytest.raises(ClientError) as missing:
        reader.head_object(Bucket=bucket, Key="QueueA/Data/none")
    assert error_code(missing) == "404"

    denied = [
        lambda: reader.put_object(Bucket=bucket, Key="QueueA/Data/new", Body=b"x"),
        lambda: reader.create_multipart_upload(Bucket=bucket, Key="QueueA/Data/new"),
        lambda: writer.get_object(Bucket=bucket, Key="QueueB/Data/secret"),
        lambda: writer.head_object(Bucket=bucket, Key="QueueB/Data/secret"),
        lambda: writer.put_object(Bucket=bucket, Key="QueueB/Data/overwrite", Body=b"x"),
        lambda: writer.put_object(Bucket=bucket, Key="QueueA-other/x", Body=b"x"),
        lambda: writer.list_objects_v2(Bucket=bucket),
        lambda: writer.list_objects_v2(Bucket=bucket, Prefix="QueueB/"),
        lambda: writer.put_object(Bucket=other_bucket, Key="QueueA/Data/x", Body=b"x"),
        lambda: writer.create_bucket(Bucket=f"farm-{uuid.uuid4().hex[:16]}"),
        lambda: writer.list_buckets(),
        lambda: writer.delete_bucket(Bucket=bucket),
        lambda: fleet.get_object(Bucket=bucket, Key="QueueA/Data/mine"),
    ]
    for attempt in denied:
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert farm_s3.get_object(Bucket=bucket, Key="QueueB/Data/secret")["Body"].read() == b"other queue"
    assert_absent(farm_s3, bucket, "QueueB/Data/overwrite")
    assert_absent(farm_s3, bucket, "QueueA/Data/new")
    # And deleting the queue revokes its credentials in the store at once
    deadline.delete_queue(farmId=farm, queueId=queue)
    with pytest.raises(ClientError) as revoked:
        reader.get_object(Bucket=bucket, Key="QueueA/Data/mine")
    assert revoked.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def queue_credentials(server: ServerProcess, bucket: str, root: str, role: str) -> boto3.Session:
    """Credentials of a new queue whose attachments live under `root`/ of `bucket` (`user` or `read`)."""
    deadline = server.client("deadline")
    farm = deadline.create_farm(displayName="object store")["farmId"]
    settings = {"s3BucketName": bucket, "rootPrefix": root}
    queue = deadline.create_queue(farmId=farm, displayName=root, jobAttachmentSettings=settings)["queueId"]
    assume = deadline.assume_queue_role_for_read if role == "read" else deadline.assume_queue_role_for_user
    return queue_session(assume(farmId=farm, queueId=queue))


def queue_session(answer: dict[str, Any]) -> boto3.Session:
    credentials = answer["credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        region_name="us-west-2",
    )


# -- bodies as botocore frames them ---------------------------------------------------------------


@pytest.fixture
def trailer_put(server: ServerProcess, bucket: str) -> Iterator[Any]:
    """A PutObject as botocore sends it over TLS by default: aws-chunked, CRC32 trailer."""
    body = bytes(range(256)) * 9000  # > 2 MiB: several 1 MiB aws-chunks

    def build(key: str) -> Any:
        return capture(
            server.boto3_session(), server.url, lambda c: c.put_object(Bucket=bucket, Key=key, Body=body)
        )

    yield body, build


def test_an_aws_chunked_body_with_a_crc32_trailer_is_stored(
    farm_s3: Any, bucket: str, trailer_put: Any
) -> None:
    body, build = trailer_put
    request = build("chunked/ok")
    assert request.headers["X-Amz-Content-SHA256"] == b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    status, headers, _ = replay(farm_s3.meta.endpoint_url, request)
    assert status == 200
    assert headers["x-amz-checksum-crc32"] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert farm_s3.get_object(Bucket=bucket, Key="chunked/ok")["Body"].read() == body


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda raw: raw.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32:AAAA", 1), b"BadDigest"),
        (lambda raw: raw[:1000] + b"Z" + raw[1001:], b"BadDigest"),
        (lambda raw: raw.replace(b"100000\r\n", b"10000g\r\n", 1), b"InvalidRequest"),
        (lambda raw: raw.replace(b"100000\r\n", b"0fffff\r\n", 1), b"InvalidRequest"),
        (lambda raw: raw[: len(raw) // 2], b"IncompleteBody"),
        (lambda raw: raw[:-2], b"IncompleteBody"),
    ],
    ids=["wrong-trailer", "flipped-byte", "bad-size", "size-mismatch", "cut-in-half", "no-final-crlf"],
)
def test_broken_aws_chunked_bodies_are_refused_and_store_nothing(
    farm_s3: Any, bucket: str, trailer_put: Any, tamper: Any, code: bytes
) -> None:
    _body, build = trailer_put
    request = build("chunked/bad")
    status, _headers, answer = replay(farm_s3.meta.endpoint_url, request, body=tamper(request.body))
    assert status == 400, answer
    assert b"<Code>" + code + b"</Code>" in answer
    assert_absent(farm_s3, bucket, "chunked/bad")


def test_unsigned_payloads_and_unchecksummed_bodies_are_accepted(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    body = b"u" * 200_000
    unsigned = capture(
        server.boto3_session(),
        server.url,
        lambda c: c.put_object(Bucket=bucket, Key="unsigned/x", Body=body),
        s3={"payload_signing_enabled": False},
        request_checksum_calculation="when_required",
    )
    assert unsigned.headers["X-Amz-Content-SHA256"] == b"UNSIGNED-PAYLOAD"
    assert replay(server.url, unsigned)[0] == 200
    assert farm_s3.get_object(Bucket=bucket, Key="unsigned/x")["Body"].read() == body
    when_required = server.boto3_session().client(
        "s3", endpoint_url=server.url, config=Config(request_checksum_calculation="when_required")
    )
    when_required.put_object(Bucket=bucket, Key="plain/x", Body=body)
    assert farm_s3.get_object(Bucket=bucket, Key="plain/x")["Body"].read() == body


# -- the connection ---------------------------------------------------------------------------------


def send_head(server: ServerProcess, request: Any, extra: dict[str, str]) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {parts.netloc}"]
    for name, value in request.headers.items():
        if name.lower() != "expect":
            lines.append(f"{name}: {value.decode() if isinstance(value, bytes) else value}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_response_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_100_continue_is_answered_before_the_body_and_only_for_allowed_requests(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    body = b"e" * 50_000
    request = capture(
        server.boto3_session(),
        server.url,
        lambda c: c.put_object(Bucket=bucket, Key="expect/x", Body=body),
        tls=False,
    )
    # Given an allowed PUT announcing its body, When only its headers were sent, Then "100 Continue"
    # comes back at once, and the body then stores the object.
    with send_head(server, request, {"Expect": "100-continue"}) as sock:
        assert read_response_head(sock).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert read_response_head(sock).startswith(b"HTTP/1.1 200")
    assert farm_s3.get_object(Bucket=bucket, Key="expect/x")["Body"].read() == body

    # Given a PUT its key may not make, Then the refusal comes instead of "100 Continue": the client
    # never sends the body.
    reader = queue_credentials(server, bucket, "other", "read")
    refused = capture(
        reader, server.url, lambda c: c.put_object(Bucket=bucket, Key="expect/y", Body=body), tls=False
    )
    with send_head(server, refused, {"Expect": "100-continue"}) as sock:
        answer = read_response_head(sock)
        assert answer.startswith(b"HTTP/1.1 403"), answer
        assert b"connection: close" in answer.lower()
    assert_absent(farm_s3, bucket, "expect/y")


def test_an_aws_chunked_body_longer_than_its_decoded_length_is_refused(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    session = server.boto3_session()
    declared = capture(
        session, server.url, lambda c: c.put_object(Bucket=bucket, Key="long/x", Body=b"s" * MIB2)
    )
    longer = capture(
        session, server.url, lambda c: c.put_object(Bucket=bucket, Key="long/x", Body=b"s" * 3 * MIB1)
    )
    status, _headers, answer = replay(server.url, declared, body=longer.body)
    assert status == 400
    assert b"<Code>InvalidRequest</Code>" in answer and b"longer than the declared" in answer
    assert_absent(farm_s3, bucket, "long/x")


def test_completing_with_no_parts_is_malformed(farm_s3: Any, bucket: str) -> None:
    upload_id = farm_s3.create_multipart_upload(Bucket=bucket, Key="none/x")["UploadId"]
    farm_s3.upload_part(Bucket=bucket, Key="none/x", UploadId=upload_id, PartNumber=1, Body=b"x")
    with pytest.raises(ClientError) as empty:
        farm_s3.complete_multipart_upload(
            Bucket=bucket, Key="none/x", UploadId=upload_id, MultipartUpload={"Parts": []}
        )
    assert error_code(empty) == "MalformedXML"
    assert_absent(farm_s3, bucket, "none/x")


def test_delete_objects_deletes_only_what_the_credentials_may_write(
    server: ServerProcess, farm_s3: Any, bucket: str
) -> None:
    farm_s3.put_object(Bucket=bucket, Key="Mine/x", Body=b"x")
    farm_s3.put_object(Bucket=bucket, Key="Theirs/x", Body=b"x")
    writer = queue_credentials(server, bucket, "Mine", "user").client("s3", endpoint_url=server.url)
    answer = writer.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "Mine/x"}, {"Key": "Theirs/x"}]}
    )
    assert [d["Key"] for d in answer["Deleted"]] == ["Mine/x"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("Theirs/x", "AccessDenied")]
    assert farm_s3.get_object(Bucket=bucket, Key="Theirs/x")["Body"].read() == b"x"
    assert_absent(farm_s3, bucket, "Mine/x")


def test_a_replaced_part_gets_a_new_etag_and_the_old_one_no_longer_completes(
    farm_s3: Any, bucket: str
) -> None:
    part_size = 5 * 1024 * 1024
    upload_id = farm_s3.create_multipart_upload(Bucket=bucket, Key="replaced/part")["UploadId"]

    def put(body: bytes) -> str:
        answer = farm_s3.upload_part(
            Bucket=bucket, Key="replaced/part", UploadId=upload_id, PartNumber=1, Body=body
        )
        return str(answer["ETag"])

    first = put(b"a" * part_size)
    assert put(b"a" * part_size) == first  # the same bytes: the same tag
    second = put(b"a" * (part_size - 1) + b"b")
    assert second != first
    with pytest.raises(ClientError) as stale:
        farm_s3.complete_multipart_upload(
            Bucket=bucket,
            Key="replaced/part",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}]},
        )
    assert error_code(stale) == "InvalidPart"  # as S3 (SeaweedFS does not check part ETags)
    farm_s3.complete_multipart_upload(
        Bucket=bucket,
        Key="replaced/part",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": second}]},
    )
    got = farm_s3.get_object(Bucket=bucket, Key="replaced/part")["Body"].read()
    assert got == b"a" * (part_size - 1) + b"b"
