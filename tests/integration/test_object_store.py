"""The farm's S3 endpoint behaves like S3 for boto3's default client: each behaviour test runs
against the farm and against SeaweedFS (the reference), so the expectations are S3's, not ours.

Over TLS botocore frames bodies as aws-chunked with a CRC32 trailer; until the farm serves HTTPS,
`test_object_store_farm.py` sends it those exact bodies over HTTP. Once it does, add its HTTPS
endpoint as a third parameter of the `s3` fixture (with the CA bundle) to run everything here
end to end over TLS.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import uuid
import zlib
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(params=["farm", "seaweedfs"])
def s3(request: pytest.FixtureRequest) -> Any:
    if request.param == "farm":
        return request.getfixturevalue("farm_s3")
    return request.getfixturevalue("seaweedfs").client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_put_then_head_and_get_return_the_object_its_metadata_and_checksum(s3: Any, bucket: str) -> None:
    body = b"hello attachments\n" * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="Root/Manifests/farm/queue/job/out_output",
        Body=body,
        ContentType="application/json",
        Metadata={"asset-root": "/mnt/projects/shot1", "file-system-location-name": "Projects"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ChecksumCRC32"] == crc32_b64(body)

    head = s3.head_object(Bucket=bucket, Key="Root/Manifests/farm/queue/job/out_output")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert head["ContentType"] == "application/json"
    assert head["Metadata"] == {"asset-root": "/mnt/projects/shot1", "file-system-location-name": "Projects"}
    assert head["LastModified"] is not None

    got = s3.get_object(Bucket=bucket, Key="Root/Manifests/farm/queue/job/out_output")
    assert got["Body"].read() == body
    assert got["Metadata"]["asset-root"] == "/mnt/projects/shot1"
    assert got["LastModified"] == head["LastModified"]


def test_missing_objects_are_404_and_unknown_buckets_no_such_bucket(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as missing_head:
        s3.head_object(Bucket=bucket, Key="Root/Data/none.xxh128")
    assert error_code(missing_head) == "404"
    with pytest.raises(ClientError) as missing_get:
        s3.get_object(Bucket=bucket, Key="Root/Data/none.xxh128")
    assert error_code(missing_get) == "NoSuchKey"
    with pytest.raises(ClientError) as no_bucket:
        s3.list_objects_v2(Bucket=f"absent-{uuid.uuid4().hex[:12]}", Prefix="k")
    assert error_code(no_bucket) == "NoSuchBucket"


def test_ranged_gets_answer_206_with_content_range_and_416_past_the_end(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r/obj", Body=body)

    part = s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=100-199")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == f"bytes 100-199/{len(body)}"
    assert part["Body"].read() == body[100:200]

    tail = s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=10000-")
    assert tail["Body"].read() == body[10000:]
    clamped = s3.get_object(Bucket=bucket, Key="r/obj", Range=f"bytes=10000-{len(body) * 2}")
    assert clamped["ContentRange"] == f"bytes 10000-{len(body) - 1}/{len(body)}"
    suffix = s3.get_object(Bucket=bucket, Key="r/obj", Range="bytes=-5")
    assert suffix["Body"].read() == body[-5:]

    with pytest.raises(ClientError) as past_end:
        s3.get_object(Bucket=bucket, Key="r/obj", Range=f"bytes={len(body)}-")
    assert error_code(past_end) == "InvalidRange"
    assert past_end.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_if_match_with_another_etag_is_a_failed_precondition(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="m/obj", Body=b"abc" * 1000)
    assert s3.get_object(Bucket=bucket, Key="m/obj", IfMatch=put["ETag"], Range="bytes=0-9")["Body"].read()
    with pytest.raises(ClientError) as changed:
        s3.get_object(Bucket=bucket, Key="m/obj", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert error_code(changed) == "PreconditionFailed"


def test_list_objects_v2_prefix_delimiter_paging_and_url_encoding(s3: Any, bucket: str) -> None:
    keys = [
        "P/Data/a.xxh128",
        "P/Data/b.xxh128",
        "P/Data/c d+e.xxh128",
        "P/Manifests/f/q/Inputs/g1/h_input",
        "P/Manifests/f/q/Inputs/g2/h_input",
        "P/job-bundles/one.ojd",
        "P/job-bundles/sub/two.ojd",
        "P/\u00e9t\u00e9.txt",
        "Q/other",
    ]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    everything = s3.list_objects_v2(Bucket=bucket, Prefix="P/", EncodingType="url")
    assert everything_keys(everything) == sorted(k for k in keys if k.startswith("P/"))
    assert everything["KeyCount"] == 8
    assert everything["IsTruncated"] is False
    assert all(c["Size"] > 0 and c["ETag"].startswith('"') for c in everything["Contents"])

    folders = s3.list_objects_v2(Bucket=bucket, Prefix="P/job-bundles/", Delimiter="/")
    assert [c["Key"] for c in folders["Contents"]] == ["P/job-bundles/one.ojd"]
    assert folders["CommonPrefixes"] == [{"Prefix": "P/job-bundles/sub/"}]

    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert top["CommonPrefixes"] == [{"Prefix": "P/"}, {"Prefix": "Q/"}]
    assert "Contents" not in top

    paged: list[str] = []
    token: dict[str, str] = {}
    pages = 0
    while True:
        page = s3.list_objects_v2(Bucket=bucket, Prefix="P/", MaxKeys=3, EncodingType="url", **token)
        pages += 1
        paged += [unquote_plus(c["Key"]) for c in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = {"ContinuationToken": page["NextContinuationToken"]}
    assert paged == everything_keys(everything)
    assert pages == 3

    empty = s3.list_objects_v2(Bucket=bucket, Prefix="P/Manifests/f/q/job-none/")
    assert "Contents" not in empty
    assert empty["KeyCount"] == 0


def everything_keys(listing: dict[str, Any]) -> list[str]:
    """Keys of a listing asked for with EncodingType=url (botocore leaves them encoded then)."""
    return [unquote_plus(c["Key"]) for c in listing["Contents"]]


def test_paging_through_common_prefixes_skips_what_they_cover(s3: Any, bucket: str) -> None:
    for folder in ("a", "b", "c"):
        for index in range(3):
            s3.put_object(Bucket=bucket, Key=f"{folder}/{index}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, **kwargs)
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen += [c["Key"] for c in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"ContinuationToken": page["NextContinuationToken"]}
    assert sorted(seen) == ["a/", "b/", "c/", "d"]


def test_multipart_upload_by_the_transfer_manager_and_resume_by_list_parts(s3: Any, bucket: str) -> None:
    body = hashlib.sha256(b"seed").digest() * (21 * 1024 * 1024 // 32)
    s3.upload_fileobj(io.BytesIO(body), bucket, "big/file", ExtraArgs={"Metadata": {"asset-root": "/r"}})
    head = s3.head_object(Bucket=bucket, Key="big/file")
    assert head["ContentLength"] == len(body)
    assert head["ETag"].endswith('-3"')
    assert head["Metadata"] == {"asset-root": "/r"}
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big/file", out)
    assert out.getvalue() == body

    part_size = 5 * 1024 * 1024
    upload = s3.create_multipart_upload(Bucket=bucket, Key="resume/file", ChecksumAlgorithm="CRC32")
    upload_id = upload["UploadId"]
    first = s3.upload_part(
        Bucket=bucket, Key="resume/file", UploadId=upload_id, PartNumber=1, Body=body[:part_size]
    )
    assert first["ChecksumCRC32"] == crc32_b64(body[:part_size])
    # The client restarts: it finds what was uploaded and sends only the rest.
    listed = s3.list_parts(Bucket=bucket, Key="resume/file", UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [
        (1, first["ETag"], part_size)
    ]
    second = s3.upload_part(
        Bucket=bucket,
        Key="resume/file",
        UploadId=upload_id,
        PartNumber=2,
        Body=body[part_size : part_size + 100],
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="resume/file",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"], "ChecksumCRC32": first["ChecksumCRC32"]},
                {"PartNumber": 2, "ETag": second["ETag"], "ChecksumCRC32": second["ChecksumCRC32"]},
            ]
        },
    )
    assert done["ETag"].endswith('-2"')
    assert s3.get_object(Bucket=bucket, Key="resume/file")["Body"].read() == body[: part_size + 100]
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="resume/file", UploadId=upload_id)
    assert error_code(gone) == "NoSuchUpload"


def test_complete_refuses_unordered_unknown_and_mismatched_parts(s3: Any, bucket: str) -> None:
    part_size = 5 * 1024 * 1024
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="bad/complete")["UploadId"]
    etags = [
        s3.upload_part(
            Bucket=bucket, Key="bad/complete", UploadId=upload_id, PartNumber=n, Body=b"p" * part_size
        )["ETag"]
        for n in (1, 2)
    ]

    def complete(parts: list[dict[str, Any]]) -> str:
        with pytest.raises(ClientError) as refused:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="bad/complete", UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        return error_code(refused)

    assert (
        complete([{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}])
        == "InvalidPartOrder"
    )
    assert (
        complete([{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 3, "ETag": etags[1]}]) == "InvalidPart"
    )
    assert complete([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]) == "InvalidPart"
    # Nothing was completed by the refused requests: the upload still completes.
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="bad/complete",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]},
    )
    assert s3.head_object(Bucket=bucket, Key="bad/complete")["ContentLength"] == 2 * part_size


def test_an_aborted_upload_is_gone(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ab/file")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab/file", UploadId=upload_id, PartNumber=1, Body=b"x" * 1000)
    s3.abort_multipart_upload(Bucket=bucket, Key="ab/file", UploadId=upload_id)
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="ab/file", UploadId=upload_id)
    assert error_code(gone) == "NoSuchUpload"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="ab/file")


def test_concurrent_puts_of_one_key_leave_one_whole_object(s3: Any, bucket: str) -> None:
    bodies = [bytes([index]) * (512 * 1024 + index) for index in range(8)]
    errors: list[BaseException] = []

    def put(body: bytes) -> None:
        try:
            s3.put_object(Bucket=bucket, Key="race/key", Body=body)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    final = s3.get_object(Bucket=bucket, Key="race/key")["Body"].read()
    assert final in bodies


def test_buckets_are_created_listed_and_deleted(s3: Any) -> None:
    name = f"lifecycle-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k/v", Body=b"x")
    s3.delete_object(Bucket=name, Key="k/v")
    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_any_signing_region_is_accepted(s3: Any, bucket: str, request: pytest.FixtureRequest) -> None:
    import boto3

    creds = s3._request_signer._credentials
    for region in ("eu-central-1", "us-east-1", "ap-southeast-2"):
        other = boto3.Session(
            aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key, region_name=region
        ).client("s3", endpoint_url=s3.meta.endpoint_url)
        other.put_object(Bucket=bucket, Key=f"region/{region}", Body=region.encode())
        assert other.get_object(Bucket=bucket, Key=f"region/{region}")["Body"].read() == region.encode()


def test_delete_objects_removes_the_keys_listed(s3: Any, bucket: str) -> None:
    for name in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=f"del/{name}", Body=b"x")
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "del/a"}, {"Key": "del/b"}, {"Key": "del/missing"}]}
    )
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["del/a", "del/b", "del/missing"]
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, Prefix="del/")["Contents"]] == ["del/c"]


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_a_wrong_content_md5_is_a_bad_digest_and_stores_nothing(s3: Any, bucket: str) -> None:
    body = b"m" * (5 * 1024 * 1024)
    wrong = md5_b64(body[:-1] + b"x")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="md5/put", Body=body, ContentMD5=wrong)
    assert error_code(refused) == "BadDigest"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="md5/put")
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="md5/put", Body=body, ContentMD5=md5_b64(body))

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="md5/part")["UploadId"]
    with pytest.raises(ClientError) as refused_part:
        s3.upload_part(
            Bucket=bucket, Key="md5/part", UploadId=upload_id, PartNumber=1, Body=body, ContentMD5=wrong
        )
    assert error_code(refused_part) == "BadDigest"
    assert not s3.list_parts(Bucket=bucket, Key="md5/part", UploadId=upload_id).get("Parts")
    s3.upload_part(
        Bucket=bucket, Key="md5/part", UploadId=upload_id, PartNumber=1, Body=body, ContentMD5=md5_b64(body)
    )
    assert len(s3.list_parts(Bucket=bucket, Key="md5/part", UploadId=upload_id)["Parts"]) == 1
