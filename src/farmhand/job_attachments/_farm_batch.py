"""The client of a farmhand farm's batch calls (see `farmhand.server.attachment_batches`).

Requests are signed with SigV4 for `s3` by botocore's signer, with the same credentials as the S3
client; bodies of puts go unsigned (`UNSIGNED-PAYLOAD`): every item is checked against the hash
it is stored under anyway. A store that does not answer with `x-farmhand-batch` (SeaweedFS, AWS)
does not speak this, and callers use plain S3 calls instead.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from ._errors import StorageAccessError

__all__ = ["BatchUnsupported", "FarmBatchClient"]

QUERY = "x-farmhand-batch"
_KEY_HEADER = struct.Struct(">H")
_SIZE = struct.Struct(">q")
_SIGNING_CONTEXT = {"client_config": Config(s3={"payload_signing_enabled": False})}


class BatchUnsupported(Exception):
    """The endpoint is not a farmhand farm (or refuses batch calls)."""


class FarmBatchClient:
    """Batch calls on one bucket of one endpoint."""

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        credentials: Any,
        region: str,
        *,
        verify: str | bool = True,
        max_connections: int = 8,
        timeout: float = 300.0,
    ) -> None:
        self.url = f"{endpoint_url.rstrip('/')}/{quote(bucket)}"
        self.bucket = bucket
        self.credentials = credentials
        self.region = region
        self.limits: dict[str, int] = {"maxKeys": 10_000, "maxPutBytes": 32 * 1024 * 1024, "maxItemBytes": 0}
        kwargs: dict[str, Any] = {}
        if self.url.startswith("https"):
            kwargs["cert_reqs"] = "CERT_REQUIRED" if verify else "CERT_NONE"
            if isinstance(verify, str):
                kwargs["ca_certs"] = verify
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=max_connections,
            block=True,
            retries=urllib3.Retry(total=3, connect=3, read=0, status=0, backoff_factor=0.2),
            timeout=urllib3.Timeout(connect=10.0, read=timeout),
            **kwargs,
        )
        self._lock = threading.Lock()

    def _request(self, operation: str, body: bytes, *, signed_body: bool, stream: bool = False) -> Any:
        url = f"{self.url}?{QUERY}={operation}"
        payload_hash = hashlib.sha256(body).hexdigest() if signed_body else "UNSIGNED-PAYLOAD"
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"X-Amz-Content-SHA256": payload_hash, "Content-Type": "application/octet-stream"},
        )
        request.context.update(_SIGNING_CONTEXT)
        frozen = self.credentials.get_frozen_credentials()
        S3SigV4Auth(frozen, "s3", self.region).add_auth(request)
        headers = {k: v for k, v in request.headers.items()}
        try:
            response = self._pool.request(
                "POST", url, body=body, headers=headers, preload_content=not stream, redirect=False
            )
        except urllib3.exceptions.HTTPError as error:
            raise StorageAccessError(f"the batch call {operation} to {self.url} failed: {error}") from error
        if response.headers.get("x-farmhand-batch") != "1":
            response.release_conn()
            raise BatchUnsupported(f"{self.url} does not serve farmhand batch calls")
        if response.status != 200:
            data = response.data if not stream else response.read()
            response.release_conn()
            try:
                detail = json.loads(data)
                message = f"{detail.get('code')}: {detail.get('message')}"
            except ValueError:
                message = data[:200].decode("utf-8", "replace")
            raise StorageAccessError(
                f"s3://{self.bucket}: batch {operation} refused ({response.status} {message})"
            )
        return response

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The keys that are not in the bucket."""
        found: list[str] = []
        step = self.limits["maxKeys"]
        for start in range(0, max(len(keys), 1), step):  # one call even for none: it is the probe
            body = json.dumps({"keys": list(keys[start : start + step])}).encode()
            answer = json.loads(self._request("missing", body, signed_body=True).data)
            with self._lock:
                self.limits.update(answer.get("limits") or {})
            found += answer["missing"]
        return found

    def put(self, items: Sequence[tuple[str, bytes | memoryview]]) -> dict[str, Any]:
        """Store content objects (their keys name their xxh128); one request for all of them."""
        parts: list[bytes | memoryview] = []
        for key, data in items:
            encoded = key.encode("utf-8")
            parts += [_KEY_HEADER.pack(len(encoded)), encoded, _SIZE.pack(len(data)), data]
        answer: dict[str, Any] = json.loads(self._request("put", b"".join(parts), signed_body=False).data)
        if answer.get("errors"):
            first = answer["errors"][0]
            raise StorageAccessError(
                f"s3://{self.bucket}/{first['key']} was not stored: {first['code']}: {first['message']}"
                + (f" (and {len(answer['errors']) - 1} more)" if len(answer["errors"]) > 1 else "")
            )
        return answer

    def get(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """(key, bytes) for each key in order; None for a missing object."""
        body = json.dumps({"keys": list(keys)}).encode()
        response = self._request("get", body, signed_body=True, stream=True)
        try:
            reader = _Reader(response)
            for expected in keys:
                (length,) = _KEY_HEADER.unpack(reader.exactly(2))
                key = reader.exactly(length).decode("utf-8")
                if key != expected:
                    raise StorageAccessError(f"batch get answered {key!r} where {expected!r} was asked")
                (size,) = _SIZE.unpack(reader.exactly(8))
                yield key, (None if size < 0 else reader.exactly(size))
        finally:
            response.release_conn()

    def close(self) -> None:
        self._pool.clear()


class _Reader:
    """Exact-length reads from a streamed urllib3 response."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.buffer = bytearray()
        self.offset = 0

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) - self.offset < count:
            chunk = self.response.read(max(1 << 20, count))
            if not chunk:
                raise StorageAccessError("a batch get answer ended early")
            if self.offset:
                del self.buffer[: self.offset]
                self.offset = 0
            self.buffer += chunk
        data = bytes(self.buffer[self.offset : self.offset + count])
        self.offset += count
        return data
