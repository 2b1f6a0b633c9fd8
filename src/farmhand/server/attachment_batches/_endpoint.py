"""The batch endpoint: `POST /<bucket>?x-farmhand-batch=missing|put|get`.

* `missing`: JSON `{"keys": [...]}` → `{"missing": [...], "limits": {...}}`; the caller must be
  allowed to read each key.
* `put`: frames `u16 key length, key, u64 size, bytes`, repeated (UNSIGNED-PAYLOAD allowed): each
  key must be a content key (`.../Data/<32 hex>.xxh128`) the caller may write, and its bytes must
  hash to that name, else the item is refused (`BadDigest`) and nothing of it is stored; keys
  already present are skipped. → `{"stored": n, "present": n, "errors": [{key, code, message}]}`.
* `get`: JSON `{"keys": [...]}` → frames `u16 key length, key, i64 size (-1: missing), bytes`.
Every answer carries `x-farmhand-batch: 1`, which is how a client knows the store speaks this.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import struct
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, unquote

import xxhash

from .._identity import Principal
from ..object_store import INLINE_MAX_BYTES, ObjectStore, S3Action, S3Error, check_key
from ..protocol import CannotParseError, ServiceError, SignedRequest, decode_json_body

__all__ = ["BATCH_QUERY", "BatchEndpoint", "is_batch_request"]

log = logging.getLogger("farmhand.server.batches")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Authenticate = Callable[[SignedRequest], tuple[Principal, str]]
# (principal, action, bucket, key, request id): raises ServiceError (AccessDenied) unless allowed;
# the full check, with revoked credentials and the audit trail.
Authorize = Callable[[Principal, str, str, str, str], None]
# (principal, action, bucket, key): the same table's answer for one more key of the same request.
Allowed = Callable[[Principal, str, str, str], bool]

BATCH_QUERY = "x-farmhand-batch"
MAX_KEYS = 20_000
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_PUT_BYTES = 64 * 1024 * 1024
MAX_ITEM_BYTES = INLINE_MAX_BYTES
SEND_BYTES = 1024 * 1024
_CONTENT_KEY = re.compile(r"(?:^|/)Data/([0-9a-f]{32})\.xxh128$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEY_HEADER = struct.Struct(">H")
_SIZE = struct.Struct(">q")
_IO = ThreadPoolExecutor(max_workers=4, thread_name_prefix="farmhand-batch-io")
LIMITS = {"maxKeys": MAX_KEYS, "maxPutBytes": MAX_PUT_BYTES, "maxItemBytes": MAX_ITEM_BYTES}


def is_batch_request(query_string: bytes) -> bool:
    return BATCH_QUERY.encode() in query_string


class BatchError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BatchEndpoint:
    """Serves batch requests on the farm's object store, authorised like the S3 endpoint."""

    def __init__(
        self,
        store: ObjectStore,
        authenticate: Authenticate,
        authorize: Authorize,
        allowed: Allowed,
        account_id: str,
    ) -> None:
        self.store = store
        self.authenticate = authenticate
        self.authorize = authorize
        self.allowed = allowed
        self.account_id = account_id

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str], request_id: str
    ) -> None:
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        query = dict(pairs)
        try:
            bucket = unquote(raw_path.strip("/"))
            if scope["method"] != "POST" or not bucket or "/" in bucket:
                raise BatchError(405, "MethodNotAllowed", "batch calls are POST /<bucket>?x-farmhand-batch=")
            caller = self._caller(SignedRequest("POST", raw_path, pairs, headers, b""), headers)
            operation = query.get(BATCH_QUERY)
            if not self.store.bucket_exists(bucket):
                raise BatchError(404, "NoSuchBucket", f"The bucket {bucket} does not exist")
            if operation == "missing":
                await self._missing(caller, bucket, receive, send, headers, request_id)
            elif operation == "put":
                await self._put(caller, bucket, receive, send, headers, request_id)
            elif operation == "get":
                await self._get(caller, bucket, receive, send, headers, request_id)
            else:
                raise BatchError(400, "InvalidArgument", f"unknown batch operation {operation!r}")
        except BatchError as error:
            await _json(send, error.status, {"code": error.code, "message": error.message}, request_id)
        except S3Error as error:
            await _json(send, error.status, {"code": error.code, "message": error.message}, request_id)
        except Exception:
            log.exception("batch request failed")
            await _json(send, 500, {"code": "InternalError", "message": "internal error"}, request_id)

    # -- authorisation ---------------------------------------------------------------------------

    def _caller(self, signed: SignedRequest, headers: Mapping[str, str]) -> Principal:
        if "x-amz-content-sha256" not in headers:
            raise BatchError(400, "InvalidRequest", "x-amz-content-sha256 is required")
        try:
            caller, _region = self.authenticate(signed)
        except ServiceError as error:
            raise BatchError(403, "AccessDenied", error.message) from None
        signed_names = headers.get("authorization", "").partition("SignedHeaders=")[2].split(",", 1)[0]
        if "x-amz-content-sha256" not in signed_names.split(";"):
            raise BatchError(403, "AccessDenied", "x-amz-content-sha256 must be a signed header")
        owner = headers.get("x-amz-expected-bucket-owner")
        if owner is not None and owner != self.account_id:
            raise BatchError(403, "AccessDenied", "The expected bucket owner does not own the bucket")
        return caller

    def _authorize(
        self, caller: Principal, action: S3Action, bucket: str, keys: list[str], request_id: str
    ) -> None:
        """Every key through the access table: the full check (revocation, audit) once and for any
        key the table refuses; the table's pure answer for the others."""
        for key in keys:
            if not isinstance(key, str):
                raise BatchError(400, "InvalidArgument", f"invalid key {key!r}")
            check_key(key)  # what a PUT would accept: relative, no NUL, at most 1,024 bytes
        if not keys:  # a probe: may the caller use this bucket at all
            checks = [(S3Action.HEAD_BUCKET.value, "")]
        else:
            refused = [key for key in keys[1:] if not self.allowed(caller, action.value, bucket, key)]
            checks = [(action.value, key) for key in [keys[0], *refused[:1]]]
        try:
            for checked_action, key in checks:
                self.authorize(caller, checked_action, bucket, key, request_id)
        except ServiceError as error:
            raise BatchError(403, "AccessDenied", error.message) from None

    # -- operations ------------------------------------------------------------------------------

    async def _keys(self, receive: Receive, headers: Mapping[str, str]) -> list[str]:
        body = await _read_body(receive, MAX_JSON_BYTES)
        expected = headers.get("x-amz-content-sha256", "")
        if _HEX64.match(expected) and hashlib.sha256(body).hexdigest() != expected:
            raise BatchError(400, "XAmzContentSHA256Mismatch", "the body does not match its SHA-256")
        try:
            # Bounded like every JSON body the farm reads: no nesting that overflows the parser,
            # no lone surrogates a key could not be stored or answered with.
            document = decode_json_body(body)
        except CannotParseError as error:
            raise BatchError(400, "MalformedRequest", error.message) from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if keys is None:
            raise BatchError(400, "MalformedRequest", 'the body must be {"keys": [...]}')
        if not isinstance(keys, list) or len(keys) > MAX_KEYS:
            raise BatchError(400, "InvalidArgument", f"keys must be a list of at most {MAX_KEYS}")
        return keys

    async def _missing(
        self,
        caller: Any,
        bucket: str,
        receive: Receive,
        send: Send,
        headers: Mapping[str, str],
        request_id: str,
    ) -> None:
        keys = await self._keys(receive, headers)
        self._authorize(caller, S3Action.READ, bucket, keys, request_id)

        def absent() -> list[str]:
            return [key for key in keys if self.store.head_object(bucket, key) is None]

        missing = await asyncio.get_running_loop().run_in_executor(_IO, absent)
        await _json(send, 200, {"missing": missing, "limits": LIMITS}, request_id)

    async def _put(
        self,
        caller: Any,
        bucket: str,
        receive: Receive,
        send: Send,
        headers: Mapping[str, str],
        request_id: str,
    ) -> None:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_PUT_BYTES:
            raise BatchError(400, "EntityTooLarge", f"a batch put carries at most {MAX_PUT_BYTES} bytes")
        body = await _read_body(receive, MAX_PUT_BYTES)
        expected = headers.get("x-amz-content-sha256", "")
        if _HEX64.match(expected) and hashlib.sha256(body).hexdigest() != expected:
            raise BatchError(400, "XAmzContentSHA256Mismatch", "the body does not match its SHA-256")
        items = list(_frames(body))
        self._authorize(caller, S3Action.WRITE, bucket, [key for key, _ in items], request_id)
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(_IO, self._store_items, bucket, items)
        await _json(send, 200, outcome, request_id)

    def _store_items(self, bucket: str, items: list[tuple[str, memoryview]]) -> dict[str, Any]:
        errors: list[dict[str, str]] = []
        pending: list[tuple[str, Future[Any]]] = []
        present = 0
        for key, data in items:
            match = _CONTENT_KEY.search(key)
            if match is None:
                errors.append({"key": key, "code": "InvalidArgument", "message": "not a content key"})
                continue
            if len(data) > MAX_ITEM_BYTES:
                errors.append(
                    {"key": key, "code": "EntityTooLarge", "message": f"items are at most {MAX_ITEM_BYTES}"}
                )
                continue
            if xxhash.xxh3_128_hexdigest(data) != match.group(1):
                errors.append(
                    {"key": key, "code": "BadDigest", "message": "the bytes do not hash to the key"}
                )
                continue
            if self.store.head_object(bucket, key) is not None:
                present += 1
                continue
            pending.append((key, self.store.put_object(bucket, key, bytes(data))))
        stored = 0
        for key, future in pending:
            try:
                future.result()
                stored += 1
            except S3Error as error:
                errors.append({"key": key, "code": error.code, "message": error.message})
        return {"stored": stored, "present": present, "errors": errors}

    async def _get(
        self,
        caller: Any,
        bucket: str,
        receive: Receive,
        send: Send,
        headers: Mapping[str, str],
        request_id: str,
    ) -> None:
        keys = await self._keys(receive, headers)
        self._authorize(caller, S3Action.READ, bucket, keys, request_id)
        loop = asyncio.get_running_loop()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/octet-stream"),
                    (b"x-farmhand-batch", b"1"),
                    (b"x-amz-request-id", request_id.encode()),
                ],
            }
        )
        chunks = self._read_frames(bucket, keys)
        while True:
            chunk = await loop.run_in_executor(_IO, next, chunks, None)
            if chunk is None:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    def _read_frames(self, bucket: str, keys: list[str]) -> Iterator[bytes]:
        """The answer in chunks of about SEND_BYTES."""
        buffer = bytearray()
        for key in keys:
            encoded = key.encode("utf-8")
            buffer += _KEY_HEADER.pack(len(encoded)) + encoded
            reader = self.store.open_object(bucket, key)
            if reader is None:
                buffer += _SIZE.pack(-1)
                continue
            with reader:
                buffer += _SIZE.pack(reader.info.size)
                for piece in reader.chunks():
                    buffer += piece
                    if len(buffer) >= SEND_BYTES:
                        yield bytes(buffer)
                        buffer.clear()
        if buffer:
            yield bytes(buffer)


def _frames(body: bytes) -> Iterator[tuple[str, memoryview]]:
    view = memoryview(body)
    offset = 0
    while offset < len(view):
        if offset + 2 > len(view):
            raise BatchError(400, "MalformedRequest", "a frame is cut short")
        (length,) = _KEY_HEADER.unpack_from(view, offset)
        offset += 2
        try:
            key = bytes(view[offset : offset + length]).decode("utf-8")
        except UnicodeDecodeError:
            raise BatchError(400, "MalformedRequest", "a key is not UTF-8") from None
        offset += length
        if offset + 8 > len(view):
            raise BatchError(400, "MalformedRequest", "a frame is cut short")
        (size,) = _SIZE.unpack_from(view, offset)
        offset += 8
        if size < 0 or offset + size > len(view):
            raise BatchError(400, "MalformedRequest", f"the frame of {key!r} is cut short")
        yield key, view[offset : offset + size]
        offset += size


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BatchError(400, "IncompleteBody", "the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BatchError(400, "EntityTooLarge", f"the body is over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Send, status: int, document: Mapping[str, Any], request_id: str) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-farmhand-batch", b"1"),
                (b"x-amz-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
