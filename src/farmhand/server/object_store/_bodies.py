"""Request bodies: how a PUT's bytes arrive (plain or aws-chunked), and reading, hashing, verifying
and storing them as they stream in.

Small bodies are kept in memory (they go into the index); large ones are written to a staged blob on
a worker thread one megabyte behind the socket, so hashing and writing overlap receiving. On the way
they are hashed (the ETag's digest, SHA-256 when the payload is signed, the `x-amz-checksum-*` and
Content-MD5 the client sent), and nothing is committed unless length, payload hash and checksums all
match.

A PutObject's ETag is the body's MD5, as clients compare it with their own. A part's ETag is only an
identifier the client hands back to CompleteMultipartUpload (S3 promises nothing more of it), so a
part is tagged with its XXH3-128 instead: MD5 would be the costliest thing the server does per byte
received. MD5 is still computed, and checked, when the client sends Content-MD5.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import xxhash

from ._asgi import IO_THREADS, Receive
from ._checksums import ALGORITHMS, Checksum, new_checksum
from ._chunked import AwsChunkedDecoder
from ._errors import S3Error
from ._store import INLINE_MAX_BYTES, ObjectStore, StagedBlob

__all__ = ["Framing", "Received", "metadata_of", "read_small_body", "receive_body"]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_XML_BODY_BYTES = 4 * 1024 * 1024
MAX_METADATA_BYTES = 2048
FLUSH_BYTES = 1024 * 1024
FLUSH_CHUNKS = 256
_STORED_HEADERS = ("cache-control", "content-disposition", "content-language", "expires")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Framing:
    """How a PUT body arrives (plain or aws-chunked), how long the object is, and what to verify."""

    chunked: bool
    length: int
    payload_sha256: str | None
    checksum_algorithm: str | None
    checksum_header: str | None
    trailer: str | None
    content_md5: str | None = None

    @classmethod
    def of(cls, headers: Mapping[str, str], max_bytes: int) -> Framing:
        content_sha256 = headers.get("x-amz-content-sha256", "")
        encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",") if e.strip()]
        trailer = headers.get("x-amz-trailer", "").strip().lower() or None
        if content_sha256 == STREAMING_UNSIGNED_TRAILER or "aws-chunked" in encodings:
            if content_sha256 != STREAMING_UNSIGNED_TRAILER:
                raise S3Error(
                    "NotImplemented",
                    f"x-amz-content-sha256 {content_sha256!r} with aws-chunked is not supported; "
                    f"use {STREAMING_UNSIGNED_TRAILER} or a signed payload hash",
                )
            decoded = headers.get("x-amz-decoded-content-length")
            if decoded is None or not decoded.isdigit():
                raise S3Error("MissingContentLength", "aws-chunked bodies need x-amz-decoded-content-length")
            chunked, length, payload = True, int(decoded), None
        else:
            if content_sha256 == UNSIGNED_PAYLOAD:
                payload = None
            elif _HEX64.match(content_sha256):
                payload = content_sha256
            else:
                raise S3Error(
                    "NotImplemented" if content_sha256.startswith("STREAMING-") else "InvalidArgument",
                    f"x-amz-content-sha256 {content_sha256[:80]!r} is not supported: send the payload's "
                    f"SHA-256, {UNSIGNED_PAYLOAD} or {STREAMING_UNSIGNED_TRAILER}",
                )
            declared = headers.get("content-length")
            if declared is None or not declared.isdigit():
                raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
            chunked, length = False, int(declared)
        if length > max_bytes:
            raise S3Error(
                "EntityTooLarge",
                f"Your proposed upload of {length} bytes exceeds the maximum allowed object size of "
                f"{max_bytes} bytes",
            )
        header_checksums = [a for a in ALGORITHMS if f"x-amz-checksum-{a}" in headers]
        if len(header_checksums) > 1:
            raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header")
        algorithm: str | None = header_checksums[0] if header_checksums else None
        header_value = headers.get(f"x-amz-checksum-{algorithm}") if algorithm else None
        if trailer is not None:
            if not chunked:
                raise S3Error("InvalidRequest", "x-amz-trailer needs an aws-chunked body")
            if not trailer.startswith("x-amz-checksum-") or trailer[15:] not in ALGORITHMS:
                raise S3Error("InvalidRequest", f"Unsupported trailer {trailer!r}")
            if algorithm is not None:
                raise S3Error("InvalidRequest", "Send a checksum either as a header or as a trailer")
            algorithm = trailer[15:]
        return cls(chunked, length, payload, algorithm, header_value, trailer, headers.get("content-md5"))


@dataclass
class Received:
    body: bytes
    blob: StagedBlob | None
    etag: str
    checksums: dict[str, str]


class BodySink:
    """Decodes, hashes, verifies and stores a body's bytes; `feed` may run on a worker thread."""

    def __init__(self, framing: Framing, blob: StagedBlob | None, *, md5_etag: bool = True) -> None:
        """`md5_etag`: the ETag is the body's MD5 (PutObject), else its XXH3-128 (UploadPart)."""
        self.framing = framing
        self.blob = blob
        self.memory = bytearray()
        self.decoder = AwsChunkedDecoder() if framing.chunked else None
        self.raw_sha256 = hashlib.sha256() if framing.payload_sha256 is not None else None
        self.md5 = hashlib.md5(usedforsecurity=False) if md5_etag or framing.content_md5 is not None else None
        self.tag = None if md5_etag else xxhash.xxh3_128()
        self.checksum: Checksum | None = (
            new_checksum(framing.checksum_algorithm) if framing.checksum_algorithm else None
        )
        self.size = 0

    def feed(self, chunks: Sequence[bytes | bytearray]) -> None:
        """Take the next chunks as they came off the socket: each is hashed where it lies and the
        decoded pieces go to the blob in one writev, never copied into a joined buffer."""
        decoded: list[memoryview] = []
        for raw in chunks:
            if self.raw_sha256 is not None:
                self.raw_sha256.update(raw)
            decoded += self.decoder.feed(raw) if self.decoder is not None else [memoryview(raw)]
        for piece in decoded:
            self.size += len(piece)
            if self.size > self.framing.length:
                raise S3Error(
                    "InvalidRequest",
                    f"The body is longer than the declared {self.framing.length} bytes",
                )
            if self.md5 is not None:
                self.md5.update(piece)
            if self.tag is not None:
                self.tag.update(piece)
            if self.checksum is not None:
                self.checksum.update(piece)
            if self.blob is None:
                self.memory += piece
        if self.blob is not None:
            self.blob.write_many(decoded)

    def finish(self) -> Received:
        """Check length, payload hash and checksum; make a staged blob durable."""
        trailers = self.decoder.finish() if self.decoder is not None else {}
        if self.size != self.framing.length:
            raise S3Error(
                "IncompleteBody",
                f"You did not provide the number of bytes specified ({self.size} of {self.framing.length})",
            )
        if self.raw_sha256 is not None and self.raw_sha256.hexdigest() != self.framing.payload_sha256:
            raise S3Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        if self.framing.content_md5 is not None:
            assert self.md5 is not None
            if base64.b64encode(self.md5.digest()).decode("ascii") != self.framing.content_md5:
                raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
        checksums: dict[str, str] = {}
        algorithm = self.framing.checksum_algorithm
        if algorithm is not None and self.checksum is not None:
            expected = self.framing.checksum_header
            if self.framing.trailer is not None:
                expected = trailers.get(self.framing.trailer)
                if expected is None:
                    raise S3Error(
                        "InvalidRequest", f"The declared trailer {self.framing.trailer} was not sent"
                    )
            actual = base64.b64encode(self.checksum.digest()).decode("ascii")
            if expected != actual:
                raise S3Error(
                    "BadDigest",
                    f"The {algorithm.upper()} you specified did not match the calculated checksum.",
                )
            checksums[algorithm] = actual
        if self.blob is not None:
            self.blob.finish()
        tag = self.tag if self.tag is not None else self.md5
        assert tag is not None
        return Received(bytes(self.memory), self.blob, tag.hexdigest(), checksums)

    def discard(self) -> None:
        if self.blob is not None:
            self.blob.discard()


async def receive_body(
    receive: Receive, framing: Framing, store: ObjectStore, *, part: bool = False
) -> Received:
    """Read the whole body through a sink; large bodies and parts are processed on a worker thread,
    one megabyte behind the socket, so hashing and writing overlap receiving."""
    large = part or framing.length > INLINE_MAX_BYTES
    loop = asyncio.get_running_loop()
    blob = await loop.run_in_executor(IO_THREADS, store.stage) if large else None
    sink = BodySink(framing, blob, md5_etag=not part)
    pending: list[bytes] = []
    pending_bytes = 0
    inflight: asyncio.Future[None] | None = None
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise S3Error("IncompleteBody", "The client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            if chunk:
                pending.append(chunk)
                pending_bytes += len(chunk)
            more = bool(message.get("more_body"))
            if pending_bytes >= FLUSH_BYTES or len(pending) >= FLUSH_CHUNKS or not more:
                data, pending, pending_bytes = pending, [], 0
                if large:
                    if inflight is not None:
                        await inflight
                    inflight = loop.run_in_executor(IO_THREADS, sink.feed, data)
                else:
                    sink.feed(data)
            if not more:
                break
        if inflight is not None:
            await inflight
            inflight = None
        if large:
            return await loop.run_in_executor(IO_THREADS, sink.finish)
        return sink.finish()
    except BaseException:
        if inflight is not None:
            with contextlib.suppress(Exception):
                await inflight
        sink.discard()
        raise


async def read_small_body(receive: Receive, headers: Mapping[str, str]) -> bytes:
    """A small XML body (CreateBucket, CompleteMultipartUpload), with its payload hash checked."""
    declared = headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_XML_BODY_BYTES:
        raise S3Error("InvalidRequest", f"The request body is over {MAX_XML_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise S3Error("IncompleteBody", "The client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_XML_BODY_BYTES:
            raise S3Error("InvalidRequest", f"The request body is over {MAX_XML_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    expected = headers.get("x-amz-content-sha256", "")
    if _HEX64.match(expected) and hashlib.sha256(body).hexdigest() != expected:
        raise S3Error(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    content_md5 = headers.get("content-md5")
    if content_md5 is not None and base64.b64encode(hashlib.md5(body).digest()).decode() != content_md5:
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
    for algorithm in ALGORITHMS:
        given = headers.get(f"x-amz-checksum-{algorithm}")
        if given is not None:
            checksum = new_checksum(algorithm)
            checksum.update(body)
            if base64.b64encode(checksum.digest()).decode() != given:
                raise S3Error(
                    "BadDigest",
                    f"The {algorithm.upper()} you specified did not match the calculated checksum.",
                )
    return body


def metadata_of(headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    metadata = {name[11:]: value for name, value in headers.items() if name.startswith("x-amz-meta-")}
    if sum(len(k) + len(v) for k, v in metadata.items()) > MAX_METADATA_BYTES:
        raise S3Error(
            "MetadataTooLarge",
            f"Your metadata headers exceed the maximum allowed metadata size ({MAX_METADATA_BYTES} bytes)",
        )
    stored = {name: headers[name] for name in _STORED_HEADERS if name in headers}
    encodings = [
        e.strip()
        for e in headers.get("content-encoding", "").split(",")
        if e.strip() and e.strip() != "aws-chunked"
    ]
    if encodings:
        stored["content-encoding"] = ",".join(encodings)
    return metadata, stored
