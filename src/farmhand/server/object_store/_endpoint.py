"""The S3 REST endpoint (path-style) as an ASGI handler over the farm's object store.

Requests are routed by method, path and query; each is authenticated with the farm's SigV4
verification and authorised (`authorize`) before any body is read, so a refused PUT never uploads its
bytes (`Expect: 100-continue` is answered only once the request may go on). Bodies are read by
`_bodies`, answers written by `_responses`, errors rendered as S3's XML.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, unquote

from .._identity import Principal
from ..protocol import ServiceError, SignedRequest
from ._access import S3Action
from ._asgi import Receive, S3Request, Scope, Send, in_thread
from ._bodies import Framing, metadata_of, read_small_body, receive_body
from ._checksums import ALGORITHMS
from ._errors import S3Error, render_error
from ._names import check_bucket_name, check_key, check_prefix
from ._responses import (
    checksum_headers,
    object_headers,
    parse_range,
    preconditions,
    respond,
    start_response,
    stream_object,
)
from ._store import ObjectInfo, ObjectReader, ObjectStore
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


Caller = Principal
Authenticate = Callable[[SignedRequest], tuple[Principal, str]]
# Decides whether the principal may do the action (`S3Action` value) on bucket/key (the farm's
# access table); raises AccessDeniedException otherwise. The last argument is the request id.
Authorize = Callable[[Principal, str, str, str, str], None]


def is_s3_request(headers: Mapping[str, str], query_string: bytes) -> bool:
    """A request signed for the `s3` service (header or presigned query)."""
    authorization = headers.get("authorization", "")
    if "/s3/aws4_request" in authorization.split(",", 1)[0]:
        return True
    return b"X-Amz-Credential=" in query_string and b"%2Fs3%2Faws4_request" in query_string


class S3Endpoint:
    """Serves S3 requests for one object store; `authenticate` is the farm's SigV4 verification."""

    def __init__(
        self, store: ObjectStore, authenticate: Authenticate, authorize: Authorize, account_id: str
    ) -> None:
        self.store = store
        self.authenticate = authenticate
        self.authorize = authorize
        self.account_id = account_id

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str], request_id: str
    ) -> None:
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        bucket, _, key = raw_path.lstrip("/").partition("/")
        request = S3Request(
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

    async def _handle(self, request: S3Request, receive: Receive, send: Send) -> None:
        method, bucket, key, query = request.method, request.bucket, request.key, request.query
        if "X-Amz-Credential" in query:
            raise S3Error("AccessDenied", "Presigned URLs are not supported by this store; sign the headers")
        if not bucket:
            if method != "GET":
                raise S3Error("MethodNotAllowed", f"{method} is not allowed on the service")
            self._caller(request, S3Action.LIST_BUCKETS)
            await respond(send, request, 200, list_buckets_result(self.account_id, self.store.list_buckets()))
            return
        check_bucket_name(bucket)
        if not key:
            await self._bucket_operation(request, receive, send)
            return
        await self._object_operation(request, receive, send)

    async def _bucket_operation(self, request: S3Request, receive: Receive, send: Send) -> None:
        method, bucket, query = request.method, request.bucket, request.query
        unsupported = _unsupported_subresource(query)
        if unsupported:
            raise S3Error("NotImplemented", f"The bucket subresource ?{unsupported} is not implemented")
        if method == "PUT":
            self._caller(request, S3Action.CREATE_BUCKET)
            await read_small_body(receive, request.headers)
            request.body_read = True
            await in_thread(self.store.create_bucket, bucket)
            await respond(send, request, 200, b"", {"Location": f"/{bucket}"})
        elif method == "DELETE":
            self._caller(request, S3Action.DELETE_BUCKET)
            await in_thread(self.store.delete_bucket, bucket)
            await respond(send, request, 204, b"")
        elif method == "HEAD":
            _caller, region = self._caller(request, S3Action.HEAD_BUCKET)
            self.store.require_bucket(bucket)
            await respond(send, request, 200, b"", {"x-amz-bucket-region": region})
        elif method == "GET" and "location" in query:
            _caller, region = self._caller(request, S3Action.HEAD_BUCKET)
            self.store.require_bucket(bucket)
            await respond(send, request, 200, location_result(region))
        elif method == "GET" and "uploads" in query:
            prefix = query.get("prefix", "")
            check_prefix(prefix)
            self._caller(request, S3Action.LIST, prefix)
            uploads = self.store.list_uploads(bucket, prefix)
            body = list_uploads_result(bucket, prefix, [(u.key, u.upload_id, u.created) for u in uploads])
            await respond(send, request, 200, body)
        elif method == "GET":
            await self._list_objects(request, send)
        elif method == "POST" and "delete" in query:
            await self._delete_objects(request, receive, send)
        else:
            raise S3Error("MethodNotAllowed", f"{method} is not allowed on a bucket")

    async def _object_operation(self, request: S3Request, receive: Receive, send: Send) -> None:
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
            await in_thread(self.store.abort_upload, request.bucket, request.key, query["uploadId"])
            await respond(send, request, 204, b"")
        elif method == "DELETE":
            self._caller(request, S3Action.WRITE, request.key)
            await in_thread(self.store.delete_object, request.bucket, request.key)
            await respond(send, request, 204, b"")
        else:
            raise S3Error("MethodNotAllowed", f"{method} is not allowed on an object")

    # -- authentication and authorisation ---------------------------------------------------------

    def _caller(self, request: S3Request, action: S3Action, key_or_prefix: str = "") -> tuple[Caller, str]:
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
        try:
            self.authorize(caller, action.value, request.bucket, key_or_prefix, request.request_id)
        except ServiceError as error:
            raise S3Error("AccessDenied", error.message) from None
        return caller, region

    def _may_write(self, caller: Caller, request: S3Request, key: str) -> None:
        """One key of a DeleteObjects request: the access table's answer, as S3 spells a refusal."""
        try:
            self.authorize(caller, S3Action.WRITE.value, request.bucket, key, request.request_id)
        except ServiceError as error:
            raise S3Error("AccessDenied", error.message) from None

    # -- objects ---------------------------------------------------------------------------------

    async def _put_object(self, request: S3Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        framing = Framing.of(request.headers, self.store.max_object_bytes)
        self.store.require_bucket(request.bucket)
        self.store.check_space(framing.length)
        received = await receive_body(receive, framing, self.store)
        request.body_read = True
        metadata, stored_headers = metadata_of(request.headers)
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
        await respond(
            send, request, 200, b"", {"ETag": f'"{info.etag}"', **checksum_headers(received.checksums)}
        )

    async def _get_object(self, request: S3Request, receive: Receive, send: Send) -> None:
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
            status = preconditions(request.headers, info)
            headers = object_headers(info)
            if status == 304:
                await respond(
                    send,
                    request,
                    304,
                    b"",
                    {"ETag": headers["ETag"], "Last-Modified": headers["Last-Modified"]},
                )
                return
            start, end = 0, info.size
            status = 200
            wanted = parse_range(request.headers.get("range"), info.size)
            if wanted is not None:
                start, end = wanted
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
            elif request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
                headers.update({k: v for k, v in checksum_headers(info.checksums).items() if "-" not in v})
            headers["Content-Length"] = str(end - start)
            if head or reader is None:
                await start_response(send, request, status, headers, info.content_type)
                await send({"type": "http.response.body", "body": b""})
                return
            await start_response(send, request, status, headers, info.content_type)
            if reader.in_index:
                await send({"type": "http.response.body", "body": reader.read(start, end)})
            else:
                await stream_object(send, receive, reader, start, end)
        finally:
            if reader is not None:
                reader.close()

    async def _list_objects(self, request: S3Request, send: Send) -> None:
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
        page = await in_thread(
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
        await respond(send, request, 200, body)

    async def _delete_objects(self, request: S3Request, receive: Receive, send: Send) -> None:
        """DeleteObjects: each key is authorised and deleted on its own; refusals are listed."""
        caller, _region = self._caller(request, S3Action.HEAD_BUCKET)
        body = await read_small_body(receive, request.headers)
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
                self._may_write(caller, request, key)
                await in_thread(self.store.delete_object, request.bucket, key)
                deleted.append(key)
            except S3Error as error:
                errors.append((key, error.code, error.message))
        await respond(send, request, 200, delete_result([] if quiet else deleted, errors))

    # -- multipart -------------------------------------------------------------------------------

    async def _create_upload(self, request: S3Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        await read_small_body(receive, request.headers)
        request.body_read = True
        algorithm = request.headers.get("x-amz-checksum-algorithm", "").lower() or None
        if algorithm is not None and algorithm not in ALGORITHMS:
            raise S3Error("InvalidRequest", f"Unknown x-amz-checksum-algorithm {algorithm!r}")
        metadata, stored_headers = metadata_of(request.headers)
        upload_id = await in_thread(
            self.store.create_upload,
            request.bucket,
            request.key,
            content_type=request.headers.get("content-type"),
            metadata=metadata,
            headers=stored_headers,
            checksum_algorithm=algorithm,
        )
        extra = {"x-amz-checksum-algorithm": algorithm.upper()} if algorithm else {}
        await respond(send, request, 200, initiate_result(request.bucket, request.key, upload_id), extra)

    async def _upload_part(self, request: S3Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        number_text = request.query.get("partNumber", "")
        if not number_text.isdigit() or not 1 <= int(number_text) <= 10_000:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        framing = Framing.of(request.headers, self.store.max_object_bytes)
        upload_id = request.query["uploadId"]
        self.store.upload(request.bucket, request.key, upload_id)
        self.store.check_space(framing.length)
        received = await receive_body(receive, framing, self.store, part=True)
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
        await respond(
            send, request, 200, b"", {"ETag": f'"{received.etag}"', **checksum_headers(received.checksums)}
        )

    async def _list_parts(self, request: S3Request, send: Send) -> None:
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
        await respond(send, request, 200, body)

    async def _complete_upload(self, request: S3Request, receive: Receive, send: Send) -> None:
        self._caller(request, S3Action.WRITE, request.key)
        body = await read_small_body(receive, request.headers)
        request.body_read = True
        parts = parse_complete_request(body)
        info = await in_thread(
            self.store.complete_upload, request.bucket, request.key, request.query["uploadId"], parts
        )
        location = f"/{request.bucket}/{request.key}"
        await respond(send, request, 200, complete_result(location, info))

    # -- errors ----------------------------------------------------------------------------------

    async def _send_error(self, send: Send, request: S3Request, error: S3Error) -> None:
        body = b"" if request.method == "HEAD" else render_error(error, request.request_id, request.raw_path)
        headers = dict(error.headers)
        if request.has_body and not request.body_read:
            # The unread body (or, after `Expect: 100-continue`, its absence) would be taken for
            # the next request on this connection.
            headers["Connection"] = "close"
        try:
            await respond(send, request, error.status, body, headers, head_length=len(body))
        except Exception:  # the response had already started: nothing more can be said
            log.debug("error after the response started: %s", error)


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
