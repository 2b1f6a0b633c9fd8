"""Responses: headers of an object, conditional and ranged reads, and writing answers to the socket
(headers and small bodies at once; large objects chunk by chunk, the next read while one is sent)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import re
from collections.abc import Mapping

from ._asgi import IO_THREADS, Receive, S3Request, Send
from ._errors import S3Error
from ._store import ObjectInfo, ObjectReader

__all__ = [
    "checksum_headers",
    "object_headers",
    "parse_range",
    "preconditions",
    "respond",
    "start_response",
    "stream_object",
]

READ_CHUNK_BYTES = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def http_date(epoch: float) -> str:
    return email.utils.formatdate(int(epoch), usegmt=True)


def object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        "ETag": f'"{info.etag}"',
        "Last-Modified": http_date(info.modified),
        "Accept-Ranges": "bytes",
    }
    headers.update(info.headers)
    for name, value in info.metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    return headers


def checksum_headers(checksums: Mapping[str, str]) -> dict[str, str]:
    return {f"x-amz-checksum-{algorithm}": value for algorithm, value in checksums.items()}


def preconditions(headers: Mapping[str, str], info: ObjectInfo) -> int:
    """200, or 304 for a matching If-None-Match / unmodified If-Modified-Since; 412 is raised."""
    etag = f'"{info.etag}"'

    def matches(header: str) -> bool:
        candidates = [c.strip() for c in header.split(",")]
        return "*" in candidates or etag in candidates or info.etag in candidates

    if_match = headers.get("if-match")
    if if_match is not None and not matches(if_match):
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    unmodified = _parsehttp_date(headers.get("if-unmodified-since"))
    if if_match is None and unmodified is not None and int(info.modified) > unmodified:
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    if_none = headers.get("if-none-match")
    if if_none is not None and matches(if_none):
        return 304
    modified_since = _parsehttp_date(headers.get("if-modified-since"))
    if if_none is None and modified_since is not None and int(info.modified) <= modified_since:
        return 304
    return 200


def _parsehttp_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).replace(tzinfo=dt.UTC).timestamp()
    except (TypeError, ValueError):
        return None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
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


async def start_response(
    send: Send, request: S3Request, status: int, headers: Mapping[str, str], content_type: str
) -> None:
    raw = [
        (b"content-type", content_type.encode("latin-1")),
        (b"x-amz-request-id", request.request_id.encode()),
        (b"x-amzn-requestid", request.request_id.encode()),
    ]
    raw.extend((k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def respond(
    send: Send,
    request: S3Request,
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
    await start_response(send, request, status, all_headers, "application/xml")
    await send({"type": "http.response.body", "body": body})


async def stream_object(send: Send, receive: Receive, reader: ObjectReader, start: int, end: int) -> None:
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
        pending = loop.run_in_executor(IO_THREADS, next_chunk)
        while True:
            chunk = await pending
            if chunk is None or gone.is_set():
                break
            pending = loop.run_in_executor(IO_THREADS, next_chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
