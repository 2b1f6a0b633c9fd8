"""The S3 REST endpoint (path-style) as an ASGI handler over the farm's object store.

Requests are authenticated with the farm's SigV4 verification before any body is read, so a refused
PUT never uploads its bytes (`Expect: 100-continue` is answered only once the request may go on).
Bodies stream: small ones are kept in memory and stored in the index, large ones are written to a
staged blob on a worker thread while the next bytes arrive, hashed on the way (MD5 for the ETag,
SHA-256 when the payload is signed, the `x-amz-checksum-*` the client sent) and verified before the
object is committed. Reads go from the index (HEAD) or from blobs read on a worker thread (GET).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from .._identity import Principal
from ..protocol import ServiceError, SignedRequest
from ._access import S3Action, authorize
from ._checksums import ALGORITHMS, Checksum, new_checksum
from ._chunked import AwsChunkedDecoder
from ._errors import S3Error, render_error
from ._names import check_bucket_name, check_key, check_prefix
from ._store import INLINE_MAX_BYTES, ObjectInfo, ObjectReader, ObjectStore, StagedBlob
from ._xml import (
    complete_result,
    delete_result,
    initiate_result,
    list_buckets_result,
    list_objects_result,
    list_parts_result,
    list_uploads_result,
    location_result,
    parse_complete_request,
    parse_delete_request,
)

__all__ = ["S3Endpoint", "is_s3_request"]

log = logging.getLogger("farmhand.server.s3")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_XML_BODY_BYTES = 4 * 1024 * 1024
MAX_METADATA_BYTES = 2048
FLUSH_BYTES = 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024
_STORED_HEADERS = ("cache-control", "content-disposition", "content-language", "expires")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Hashing and file writes of large bodies, and blob reads: off the event loop.
_IO = ThreadPoolExecutor(max_workers=32, thread_name_prefix="farmhand-s3-io")


Caller = Principal
Authenticate = Callable[[SignedRequest], tuple[Principal, str]]


def is_s3_request(headers: Mapping[str, str], query_string: bytes) -> bool:
    """A request signed for the `s3` service (header or presigned query)."""
    authorization = headers.get("authorization", "")
    if "/s3/aws4_request" in authorization.split(",", 1)[0]:
        return True
    return b"X-Amz-Credential=" in query_string and b"%2Fs3%2Faws4_request" in query_string


@dataclass
class _Request:
    method: str
    raw_path: str
    query: dict[str, str]
    query_pairs: list[tuple[str, str]]
    headers: Mapping[str, str]
    bucket: str
    key: str
    request_id: str
    body_read: bool = False

    @property
    def has_body(self) -> bool:
        length = self.headers.get("content-length", "0")
        return "transfer-encoding" in self.headers or not length.isdigit() or int(length) > 0


class S3Endpoint:
    """Serves S3 requests for one object store; `authenticate` is the farm's SigV4 verification."""

    def __init__(
        self, store: ObjectStore, authenticate: Authenticate, account_id: str, *, admin_principal_id: str
    ) -> None:
        self.store = store
        self.authenticate = authenticate
        self.account_id = account_id
        self.admin_principal_id = admin_principal_id

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str], request_id: str
    ) -> None:
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        bucket, _, key = raw_path.lstrip("/").partition("/")
        request = _Request(
            scope["method"],
            raw_path,
            {name: value for name, value in pairs},
            pairs,
            headers,
            "",
            "",
            request_id,
        )
        try:
            request.bucket = _decode_path(bucket)
            request.key = _decode_path(key)
            await self._handle(request, receive, send)
        except S3Error as error:
            await self._send_error(send, request, error)
        except Exception:
            log.exception("S3 request failed")
            await self._send_error(
                send, request, S3Error("InternalError", "We encountered an internal error")
            )

    # -- routing ---------------------------------------------------------------------------------

    async def _handle(self, request: _Request, receive: Receive, send: Send) -> None:
        method, bucket, key, query = request.method, request.bucket, request.key, request.query
        if "X-Amz-Credential" in query:
            raise S3Error("AccessDenied", "Presigned URLs are not supported by this store; sign the headers")
        if not bucket:
            if method != "GET":
                raise S3Error("MethodNotAllowed", f"{method} is not allowed on the service")
            self._caller(request, S3Action.LIST_BUCKETS)
            await _respond(
                send, request, 200, list_buckets_result(self.account_id, self.store.list_buckets())
            )
            return
        check_bucket_name(bucket)
        if not key:
            await self._bucket_operation(request, receive, send)
            return
        await self._object_operation(request, receive, send)

    async def _bucket_operation(self, request: _Request, receive: Receive, send: Send) -> None:
        method, bucket, query = request.method, request.bucket, request.query
        unsupported = _unsupported_subresource(query)
        if unsupported:
            raise S3Error("NotImplemented", f"The bucket subresource ?{unsupported} is not implemented")
        if method == "PUT":
            self._caller(request, S3Action.CREATE_BUCKET)
            await _read_small_body(receive, request.headers)
            request.body_read = True
            await _in_thread(self.store.create_bucket, bucket)
            await _respond(send, request, 200, b"", {"Location": f"/{bucket}"})
        elif method == "DELETE":
            self._caller(request, S3Action.DELETE_BUCKET)
            await _in_thread(self.store.delete_bucket, bucket)
            await _respond(send, request, 204, b"")
        elif method == "HEAD":
            _caller, region = self._caller(request, S3Action.HEAD_BUCKET)
            self.store.require_bucket(bucket)
            await _respond(send, request, 200, b"", {"x-amz-bucket-region": region})
        elif method == "GET" and "location" in query:
            _caller, region = self._caller(request, S3Action.HEAD_BUCKET)
            self.store.require_bucket(bucket)
            await _respond(send, request, 200, location_result(region))
        elif method == "GET" and "uploads" in query:
            prefix = query.get("prefix", "")
            check_prefix(prefix)
            self._caller(request, S3Action.LIST, prefix)
            uploads = self.store.list_uploads(bucket, prefix)
            body = list_uploads_result(bucket, prefix, [(u.key, u.upload_id, u.created) for u in uploads])
            await _respond(send, request, 200, body)
        elif method == "GET":
            await self._list_objects(request, send)
        elif method == "POST" and "delete" in query:
            await self._delete_objects(request, receive, send)
        else:
            raise S3Error("MethodNotAllowed", f"{method} is not allowed on a bucket")

    async def _object_operation(self, request: _Request, receive: Receive, send: Send) -> None:
        method, query = request.method, request.query
        check_key(request.key)
        unsupported = _unsupported_subresource(query)
        if unsupported:
            raise S3Error("NotImplemented", f"The object subresource ?{unsupported} is not implemented")
        if method == "PUT" and "uploadId" in query:
            await self._upload_part(request, receive, send)
        elif method == "PUT":
            if "x-amz-copy-source" in request.headers:
                raise S3Error("NotImplemented", "CopyObject is not implemented by this store")
            await self._put_object(request, receive, send)
        elif method in ("GET", "HEAD") and "uploadId" in query:
            await self._list_parts(request, send)
        elif method in ("GET", "HEAD"):
            await self._get_object(request, receive, send)
        elif method == "POST" and "uploads" in query:
            await self._create_upload(request, receive, send)
        elif method == "POST" and "uploadId" in query:
            await self._complete_upload(request, receive, send)
        elif method == "DELETE" and "uploadId" in query:
            self._caller(request, S3Action.WRITE, request.key)
            await _in_thread(self.store.abort_upload, request.bucket, request.key, query["uploadId"])
            await _respond(send, request, 204, b"")
        elif method == "DELETE":
            self._caller(request, S3Action.WRITE, request.key)
            await _in_thread(self.store.delete_object, request.bucket, request.key)
            await _respond(send, request, 204, b"")
        else:
            raise S3Error("MethodNotAllowed", f"{method} is not allowed on an object")

    # -- authentication and authorisation ---------------------------------------------------------

    def _caller(self, request: _Request, action: S3Action, key_or_prefix: str = "") -> tuple[Caller, str]:
        """Verify the signature, the expected bucket owner, and that the caller may do `action`."""
        headers = request.headers
        content_sha256 = headers.get("x-amz-content-sha256")
        if "authorization" in headers and content_sha256 is None:
            raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        signed = SignedRequest(request.method, request.raw_path, request.query_pairs, headers, b"")
        try:
            caller, region = self.authenticate(signed)
        except ServiceError as error:
            raise _s3_auth_error(error) from None
        signed_names = headers.get("authorization", "").partition("SignedHeaders=")[2].split(",", 1)[0]
        if "x-amz-content-sha256" not in signed_names.split(";"):
            raise S3Error("AccessDenied", "x-amz-content-sha256 must be a signed header")
        owner = headers.get("x-amz-expected-bucket-owner")
        if owner is not None and owner != self.account_id:
            raise S3Error("AccessDenied", "The expected bucket owner does not own the bucket")
        authorize(caller.arn, caller.scope, self._is_admin(caller), action, request.bucket, key_or_prefix)
        return caller, region

    def _is_admin(self, caller: Caller) -> bool:
        return caller.scope is None and caller.principal_id == self.admin_principal_id

    # -- objects ---------------------------------------------------------------------------------

    async def _put_object(self, request: _Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        framing = _Framing.of(request.headers, self.store.max_object_bytes)
        self.store.require_bucket(request.bucket)
        received = await _receive(receive, framing, self.store)
        request.body_read = True
        metadata, stored_headers = _metadata_of(request.headers)
        info: ObjectInfo = await asyncio.wrap_future(
            self.store.put_object(
                request.bucket,
                request.key,
                received.body if received.blob is None else received.blob,
                etag=received.etag,
                content_type=request.headers.get("content-type"),
                metadata=metadata,
                headers=stored_headers,
                checksums=received.checksums,
            )
        )
        await _respond(
            send, request, 200, b"", {"ETag": f'"{info.etag}"', **_checksum_headers(received.checksums)}
        )

    async def _get_object(self, request: _Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.READ, request.key)
        head = request.method == "HEAD"
        if "partNumber" in request.query:
            raise S3Error("NotImplemented", "GetObject by partNumber is not implemented by this store")
        if head:
            info = self.store.head_object(request.bucket, request.key)
            reader: ObjectReader | None = None
        else:
            # An index read and a few opens: cheaper here than a hop to a thread.
            reader = self.store.open_object(request.bucket, request.key)
            info = reader.info if reader is not None else None
        if info is None:
            self.store.require_bucket(request.bucket)
            raise S3Error("NoSuchKey", "The specified key does not exist.", key=request.key)
        try:
            status = _preconditions(request.headers, info)
            headers = _object_headers(info)
            if status == 304:
                await _respond(
                    send,
                    request,
                    304,
                    b"",
                    {"ETag": headers["ETag"], "Last-Modified": headers["Last-Modified"]},
                )
                return
            start, end = 0, info.size
            status = 200
            wanted = _parse_range(request.headers.get("range"), info.size)
            if wanted is not None:
                start, end = wanted
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
            elif request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
                headers.update({k: v for k, v in _checksum_headers(info.checksums).items() if "-" not in v})
            headers["Content-Length"] = str(end - start)
            if head or reader is None:
                await _start(send, request, status, headers, info.content_type)
                await send({"type": "http.response.body", "body": b""})
                return
            await _start(send, request, status, headers, info.content_type)
            if reader.in_index:
                await send({"type": "http.response.body", "body": reader.read(start, end)})
            else:
                await _stream(send, receive, reader, start, end)
        finally:
            if reader is not None:
                reader.close()

    async def _list_objects(self, request: _Request, send: Send) -> None:
        query = request.query
        version = 2 if query.get("list-type") == "2" else 1
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        check_prefix(prefix)
        self._caller(request, S3Action.LIST, prefix)
        encoding = query.get("encoding-type")
        if encoding not in (None, "url"):
            raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request (encoding-type)")
        max_keys_text = query.get("max-keys", "1000")
        if not max_keys_text.isdigit():
            raise S3Error("InvalidArgument", "max-keys must be a non-negative integer")
        max_keys = min(int(max_keys_text), 1000)
        token = query.get("continuation-token") if version == 2 else None
        after: str | None
        after_is_prefix = False
        if token is not None:
            after, after_is_prefix = _decode_token(token)
        elif version == 2:
            after = query.get("start-after") or None
        else:
            after = query.get("marker") or None
            after_is_prefix = bool(after and delimiter and after.endswith(delimiter))
        page = await _in_thread(
            self.store.list_objects,
            request.bucket,
            prefix,
            delimiter,
            after,
            max_keys,
            after_is_prefix=after_is_prefix,
        )
        next_token = None
        if page.truncated and page.last is not None:
            is_prefix = bool(page.common_prefixes) and page.last == page.common_prefixes[-1]
            next_token = _encode_token(page.last, is_prefix)
        body = list_objects_result(
            request.bucket,
            page,
            version=version,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            url_encode=encoding == "url",
            continuation_token=token,
            next_token=next_token,
            start_after=query.get("start-after"),
            marker=query.get("marker"),
        )
        await _respond(send, request, 200, body)

    async def _delete_objects(self, request: _Request, receive: Receive, send: Send) -> None:
        """DeleteObjects: each key is authorised and deleted on its own; refusals are listed."""
        caller, _region = self._caller(request, S3Action.HEAD_BUCKET)
        body = await _read_small_body(receive, request.headers)
        request.body_read = True
        if not any(
            h in request.headers for h in ("content-md5", *(f"x-amz-checksum-{a}" for a in ALGORITHMS))
        ):
            raise S3Error("InvalidRequest", "DeleteObjects needs a Content-MD5 or x-amz-checksum-* header")
        keys, quiet = parse_delete_request(body)
        self.store.require_bucket(request.bucket)
        deleted: list[str] = []
        errors: list[tuple[str, str, str]] = []
        for key in keys:
            try:
                check_key(key)
                authorize(
                    caller.arn, caller.scope, self._is_admin(caller), S3Action.WRITE, request.bucket, key
                )
                await _in_thread(self.store.delete_object, request.bucket, key)
                deleted.append(key)
            except S3Error as error:
                errors.append((key, error.code, error.message))
        await _respond(send, request, 200, delete_result([] if quiet else deleted, errors))

    # -- multipart -------------------------------------------------------------------------------

    async def _create_upload(self, request: _Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        await _read_small_body(receive, request.headers)
        request.body_read = True
        algorithm = request.headers.get("x-amz-checksum-algorithm", "").lower() or None
        if algorithm is not None and algorithm not in ALGORITHMS:
            raise S3Error("InvalidRequest", f"Unknown x-amz-checksum-algorithm {algorithm!r}")
        metadata, stored_headers = _metadata_of(request.headers)
        upload_id = await _in_thread(
            self.store.create_upload,
            request.bucket,
            request.key,
            content_type=request.headers.get("content-type"),
            metadata=metadata,
            headers=stored_headers,
            checksum_algorithm=algorithm,
        )
        extra = {"x-amz-checksum-algorithm": algorithm.upper()} if algorithm else {}
        await _respond(send, request, 200, initiate_result(request.bucket, request.key, upload_id), extra)

    async def _upload_part(self, request: _Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        number_text = request.query.get("partNumber", "")
        if not number_text.isdigit() or not 1 <= int(number_text) <= 10_000:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        framing = _Framing.of(request.headers, self.store.max_object_bytes)
        upload_id = request.query["uploadId"]
        self.store.upload(request.bucket, request.key, upload_id)
        received = await _receive(receive, framing, self.store, always_stage=True)
        request.body_read = True
        assert received.blob is not None
        await asyncio.wrap_future(
            self.store.put_part(
                request.bucket,
                request.key,
                upload_id,
                int(number_text),
                received.blob,
                received.etag,
                received.checksums,
            )
        )
        await _respond(
            send, request, 200, b"", {"ETag": f'"{received.etag}"', **_checksum_headers(received.checksums)}
        )

    async def _list_parts(self, request: _Request, send: Send) -> None:
        self._caller(request, S3Action.READ, request.key)
        marker_text = request.query.get("part-number-marker", "0") or "0"
        max_text = request.query.get("max-parts", "1000") or "1000"
        if not marker_text.isdigit() or not max_text.isdigit():
            raise S3Error("InvalidArgument", "part-number-marker and max-parts must be integers")
        upload = self.store.upload(request.bucket, request.key, request.query["uploadId"])
        max_parts = min(int(max_text), 1000)
        parts, truncated = self.store.list_parts(
            request.bucket, request.key, upload.upload_id, int(marker_text), max_parts
        )
        body = list_parts_result(
            request.bucket,
            request.key,
            upload.upload_id,
            parts,
            marker=int(marker_text),
            max_parts=max_parts,
            truncated=truncated,
            checksum_algorithm=upload.checksum_algorithm,
        )
        await _respond(send, request, 200, body)

    async def _complete_upload(self, request: _Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        body = await _read_small_body(receive, request.headers)
        request.body_read = True
        parts = parse_complete_request(body)
        info = await _in_thread(
            self.store.complete_upload, request.bucket, request.key, request.query["uploadId"], parts
        )
        location = f"/{request.bucket}/{request.key}"
        await _respond(send, request, 200, complete_result(location, info))

    # -- errors ----------------------------------------------------------------------------------

    async def _send_error(self, send: Send, request: _Request, error: S3Error) -> None:
        body = b"" if request.method == "HEAD" else render_error(error, request.request_id, request.raw_path)
        headers = dict(error.headers)
        if request.has_body and not request.body_read:
            # The unread body (or, after `Expect: 100-continue`, its absence) would be taken for
            # the next request on this connection.
            headers["Connection"] = "close"
        try:
            await _respond(send, request, error.status, body, headers, head_length=len(body))
        except Exception:  # the response had already started: nothing more can be said
            log.debug("error after the response started: %s", error)


# -- request bodies ------------------------------------------------------------------------------


@dataclass
class _Framing:
    """How a PUT body arrives (plain or aws-chunked), how long the object is, and what to verify."""

    chunked: bool
    length: int
    payload_sha256: str | None
    checksum_algorithm: str | None
    checksum_header: str | None
    trailer: str | None

    @classmethod
    def of(cls, headers: Mapping[str, str], max_bytes: int) -> _Framing:
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
        return cls(chunked, length, payload, algorithm, header_value, trailer)


@dataclass
class _Received:
    body: bytes
    blob: StagedBlob | None
    etag: str
    checksums: dict[str, str]


class _BodySink:
    """Decodes, hashes, verifies and stores a body's bytes; `feed` may run on a worker thread."""

    def __init__(self, framing: _Framing, blob: StagedBlob | None) -> None:
        self.framing = framing
        self.blob = blob
        self.memory = bytearray()
        self.decoder = AwsChunkedDecoder() if framing.chunked else None
        self.raw_sha256 = hashlib.sha256() if framing.payload_sha256 is not None else None
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.checksum: Checksum | None = (
            new_checksum(framing.checksum_algorithm) if framing.checksum_algorithm else None
        )
        self.size = 0

    def feed(self, raw: bytes) -> None:
        if self.raw_sha256 is not None:
            self.raw_sha256.update(raw)
        pieces: list[memoryview] = self.decoder.feed(raw) if self.decoder is not None else [memoryview(raw)]
        for piece in pieces:
            self.size += len(piece)
            if self.size > self.framing.length:
                raise S3Error(
                    "InvalidRequest",
                    f"The body is longer than the declared {self.framing.length} bytes",
                )
            self.md5.update(piece)
            if self.checksum is not None:
                self.checksum.update(piece)
            if self.blob is not None:
                self.blob.write(piece)
            else:
                self.memory += piece

    def finish(self) -> _Received:
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
        return _Received(bytes(self.memory), self.blob, self.md5.hexdigest(), checksums)

    def discard(self) -> None:
        if self.blob is not None:
            self.blob.discard()


async def _receive(
    receive: Receive, framing: _Framing, store: ObjectStore, *, always_stage: bool = False
) -> _Received:
    """Read the whole body through a sink; large bodies are processed on a worker thread, one
    megabyte behind the socket, so hashing and writing overlap receiving."""
    large = always_stage or framing.length > INLINE_MAX_BYTES
    loop = asyncio.get_running_loop()
    blob = await loop.run_in_executor(_IO, store.stage) if large else None
    sink = _BodySink(framing, blob)
    pending = bytearray()
    inflight: asyncio.Future[None] | None = None
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise S3Error("IncompleteBody", "The client disconnected before sending the whole body")
            pending += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(pending) >= FLUSH_BYTES or not more:
                data = bytes(pending)
                pending.clear()
                if large:
                    if inflight is not None:
                        await inflight
                    inflight = loop.run_in_executor(_IO, sink.feed, data)
                else:
                    sink.feed(data)
            if not more:
                break
        if inflight is not None:
            await inflight
            inflight = None
        if large:
            return await loop.run_in_executor(_IO, sink.finish)
        return sink.finish()
    except BaseException:
        if inflight is not None:
            with _suppress_all():
                await inflight
        sink.discard()
        raise


class _suppress_all:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


async def _read_small_body(receive: Receive, headers: Mapping[str, str]) -> bytes:
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


# -- responses -----------------------------------------------------------------------------------


def _http_date(epoch: float) -> str:
    return email.utils.formatdate(int(epoch), usegmt=True)


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        "ETag": f'"{info.etag}"',
        "Last-Modified": _http_date(info.modified),
        "Accept-Ranges": "bytes",
    }
    headers.update(info.headers)
    for name, value in info.metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    return headers


def _checksum_headers(checksums: Mapping[str, str]) -> dict[str, str]:
    return {f"x-amz-checksum-{algorithm}": value for algorithm, value in checksums.items()}


def _metadata_of(headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
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


def _preconditions(headers: Mapping[str, str], info: ObjectInfo) -> int:
    """200, or 304 for a matching If-None-Match / unmodified If-Modified-Since; 412 is raised."""
    etag = f'"{info.etag}"'

    def matches(header: str) -> bool:
        candidates = [c.strip() for c in header.split(",")]
        return "*" in candidates or etag in candidates or info.etag in candidates

    if_match = headers.get("if-match")
    if if_match is not None and not matches(if_match):
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    unmodified = _parse_http_date(headers.get("if-unmodified-since"))
    if if_match is None and unmodified is not None and int(info.modified) > unmodified:
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    if_none = headers.get("if-none-match")
    if if_none is not None and matches(if_none):
        return 304
    modified_since = _parse_http_date(headers.get("if-modified-since"))
    if if_none is None and modified_since is not None and int(info.modified) <= modified_since:
        return 304
    return 200


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).replace(tzinfo=dt.UTC).timestamp()
    except (TypeError, ValueError):
        return None


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a satisfiable single byte range; None to send the whole object."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None  # not a single byte range: ignored, as HTTP allows
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
        if last and int(last) < start:
            return None
    else:
        start, end = max(size - int(last), 0), size
    if start >= size or end <= start:
        raise S3Error(
            "InvalidRange",
            "The requested range is not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


async def _start(
    send: Send, request: _Request, status: int, headers: Mapping[str, str], content_type: str
) -> None:
    raw = [
        (b"content-type", content_type.encode("latin-1")),
        (b"x-amz-request-id", request.request_id.encode()),
        (b"x-amzn-requestid", request.request_id.encode()),
    ]
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def _respond(
    send: Send,
    request: _Request,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    head_length: int | None = None,
) -> None:
    all_headers = dict(headers or {})
    all_headers["Content-Length"] = str(len(body) if head_length is None else head_length)
    if request.method == "HEAD" or status in (204, 304):
        body = b""
        if status in (204, 304):
            all_headers.pop("Content-Length", None)
    await _start(send, request, status, all_headers, "application/xml")
    await send({"type": "http.response.body", "body": body})


async def _stream(send: Send, receive: Receive, reader: ObjectReader, start: int, end: int) -> None:
    """Send [start, end) of the object, reading the next chunk while the current one goes out;
    stop reading once the client has gone."""
    loop = asyncio.get_running_loop()
    chunks = reader.chunks(start, end, READ_CHUNK_BYTES)
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())

    def next_chunk() -> bytes | None:
        return next(chunks, None)

    try:
        pending = loop.run_in_executor(_IO, next_chunk)
        while True:
            chunk = await pending
            if chunk is None or gone.is_set():
                break
            pending = loop.run_in_executor(_IO, next_chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_IO, lambda: function(*args, **kwargs))


# -- small helpers -------------------------------------------------------------------------------

_SUPPORTED_SUBRESOURCES = {
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
    "marker",
    "location",
    "uploads",
    "uploadId",
    "partNumber",
    "part-number-marker",
    "max-parts",
    "x-id",
    "key-marker",
    "delete",
    "upload-id-marker",
    "max-uploads",
}


def _unsupported_subresource(query: Mapping[str, str]) -> str | None:
    for name in query:
        if name not in _SUPPORTED_SUBRESOURCES and not name.startswith(("response-", "X-Amz-")):
            return name
    return None


def _decode_path(text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", "The request path is not valid UTF-8 once percent-decoded") from None


def _encode_token(last: str, is_prefix: bool) -> str:
    return base64.urlsafe_b64encode(("p" if is_prefix else "k").encode() + last.encode()).decode()


def _decode_token(token: str) -> tuple[str, bool]:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from None
    if not raw or raw[0] not in "pk":
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect")
    return raw[1:], raw[0] == "p"


def _s3_auth_error(error: ServiceError) -> S3Error:
    """The S3 code for a failure of the farm's SigV4 verification."""
    name = type(error).__name__
    message = error.message
    if name == "MissingAuthenticationTokenError":
        return S3Error("AccessDenied", "Anonymous access is forbidden: sign the request")
    if name == "IncompleteSignatureError":
        return S3Error("AuthorizationHeaderMalformed", message)
    if name == "ExpiredTokenError":
        return S3Error("ExpiredToken", "The provided token has expired.")
    if name == "UnrecognizedClientError":
        return S3Error(
            "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        )
    if name == "InvalidSignatureError" and "expired" in message.lower():
        return S3Error("RequestTimeTooSkewed", message)
    if name == "InvalidSignatureError":
        return S3Error("SignatureDoesNotMatch", message)
    return S3Error("AccessDenied", message)
