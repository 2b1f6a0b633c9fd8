"""S3 requests exactly as botocore builds them, captured and replayed over a real socket.

botocore frames bodies as aws-chunked with a checksum trailer only over TLS. To send the farm the
very bytes botocore produces in each mode, a client pointed at `https://host:port` builds and signs
the request (SigV4 does not cover the scheme), the `before-send` hook keeps it instead of sending
it, and `replay` sends it, unchanged or with a tampered body, to the plain-HTTP endpoint.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config


@dataclass
class Captured:
    method: str
    path: str  # with query
    headers: dict[str, str]
    body: bytes


class _EmptyRaw:
    def stream(self, *args: Any, **kwargs: Any) -> Iterable[bytes]:
        return iter([b""])


def capture(
    session: boto3.Session,
    http_url: str,
    call: Callable[[Any], Any],
    *,
    tls: bool = True,
    **config: Any,
) -> Captured:
    """The request `call(client)` makes, built as if the endpoint were https (or plain http)."""
    parts = urlsplit(http_url)
    endpoint = f"{'https' if tls else 'http'}://{parts.netloc}"
    client = session.client("s3", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}, **config))
    captured: list[Captured] = []

    def keep(request: Any, **_: Any) -> AWSResponse:
        body = request.body
        if hasattr(body, "read"):
            data = body.read()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = bytes(body or b"")
        target = urlsplit(request.url)
        path = target.path + (f"?{target.query}" if target.query else "")
        captured.append(Captured(request.method, path, dict(request.headers.items()), data))
        return AWSResponse(request.url, 200, {}, _EmptyRaw())

    client.meta.events.register_first("before-send.s3", keep)
    try:
        call(client)
    except Exception:
        if not captured:
            raise
    return captured[0]


def decoded_headers(captured: Captured) -> dict[str, str]:
    return {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in captured.headers.items()}


def replay(http_url: str, captured: Captured, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send the captured request (optionally with another body) to the plain-HTTP endpoint."""
    parts = urlsplit(http_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = decoded_headers(captured)
    payload = captured.body if body is None else body
    chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
    try:
        conn.putrequest(captured.method, captured.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", parts.netloc)
        for name, value in headers.items():
            if name.lower() == "expect":
                continue
            conn.putheader(name, value)
        if not chunked and "Content-Length" not in headers:
            conn.putheader("Content-Length", str(len(payload)))
        conn.endheaders()
        if chunked:
            for offset in range(0, len(payload), 65536):
                piece = payload[offset : offset + 65536]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.send(payload)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
