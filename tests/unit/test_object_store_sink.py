"""A body's bytes from the socket to a staged blob: whatever the chunking, the blob holds exactly the
payload, the tags are the payload's, and a wrong digest leaves nothing behind."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import zlib
from pathlib import Path

import boto3
import pytest
import xxhash

from _s3_wire import capture
from farmhand.server.object_store import ObjectStore, S3Error
from farmhand.server.object_store._bodies import BodySink, Framing

SESSION = boto3.Session(
    aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="us-west-2"
)
PAYLOAD = random.Random(7).randbytes(3 * 1024 * 1024 + 12_345)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


def split(raw: bytes, seed: int) -> list[list[bytes]]:
    """`raw` in batches of chunks of random sizes (1 byte to 300 KiB), as they may leave the socket."""
    rng = random.Random(seed)
    chunks: list[bytes] = []
    offset = 0
    while offset < len(raw):
        size = rng.choice([1, 7, 4096, 65_536, 300_000])
        chunks.append(raw[offset : offset + size])
        offset += size
    batches: list[list[bytes]] = []
    while chunks:
        take = rng.randint(1, 400)
        batches.append(chunks[:take])
        chunks = chunks[take:]
    return batches


def staged_bytes(store: ObjectStore) -> list[bytes]:
    return [path.read_bytes() for path in sorted(store.staging.iterdir())]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("tls", "checksum_mode"),
    [(True, "when_supported"), (False, "when_supported"), (False, "when_required")],
    ids=["aws-chunked-crc32-trailer", "signed-crc32-header", "signed"],
)
def test_botocore_bodies_land_in_the_blob_byte_for_byte(
    store: ObjectStore, seed: int, tls: bool, checksum_mode: str
) -> None:
    request = capture(
        SESSION,
        "http://127.0.0.1:9",
        lambda c: c.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=PAYLOAD),
        tls=tls,
        request_checksum_calculation=checksum_mode,
    )
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    headers.setdefault("content-length", str(len(request.body)))
    framing = Framing.of(headers, 1 << 40)
    blob = store.stage()
    sink = BodySink(framing, blob, md5_etag=False)
    for batch in split(request.body, seed):
        sink.feed(batch)
    received = sink.finish()
    assert received.etag == xxhash.xxh3_128(PAYLOAD).hexdigest()
    assert blob.size == len(PAYLOAD)
    assert staged_bytes(store) == [PAYLOAD]


def test_a_put_is_tagged_with_its_md5(store: ObjectStore) -> None:
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-length": str(len(PAYLOAD))}
    sink = BodySink(Framing.of(headers, 1 << 40), store.stage())
    for batch in split(PAYLOAD, 4):
        sink.feed(batch)
    assert sink.finish().etag == hashlib.md5(PAYLOAD).hexdigest()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("x-amz-content-sha256", "XAmzContentSHA256Mismatch"),
        ("content-md5", "BadDigest"),
        ("x-amz-checksum-crc32", "BadDigest"),
    ],
)
def test_one_flipped_byte_is_refused_and_the_blob_removed(store: ObjectStore, header: str, code: str) -> None:
    digests = {
        "x-amz-content-sha256": hashlib.sha256(PAYLOAD).hexdigest(),
        "content-md5": base64.b64encode(hashlib.md5(PAYLOAD).digest()).decode(),
        "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(PAYLOAD).to_bytes(4, "big")).decode(),
    }
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-length": str(len(PAYLOAD))}
    headers[header] = digests[header]
    corrupt = bytearray(PAYLOAD)
    corrupt[len(corrupt) // 2] ^= 1
    sink = BodySink(Framing.of(headers, 1 << 40), store.stage(), md5_etag=False)
    for batch in split(bytes(corrupt), 5):
        sink.feed(batch)
    with pytest.raises(S3Error) as refused:
        sink.finish()
    assert refused.value.code == code
    sink.discard()
    assert staged_bytes(store) == []


def test_write_many_keeps_order_across_many_buffers_and_empty_ones(store: ObjectStore) -> None:
    rng = random.Random(9)
    pieces: list[bytes | memoryview] = []
    for n in range(3000):  # more than one writev may take
        data = os.urandom(rng.choice([0, 1, 13, 5000]))
        pieces.append(memoryview(data) if n % 3 == 0 else data)
    blob = store.stage()
    blob.write_many(pieces)
    blob.finish()
    expected = b"".join(bytes(p) for p in pieces)
    assert blob.size == len(expected)
    assert staged_bytes(store) == [expected]
