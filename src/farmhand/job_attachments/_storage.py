"""A queue's bucket as the job-attachment code uses it: plain S3 calls, or the farm's batch calls.

One S3 client per bucket (building one costs tens of milliseconds), reused from many threads.
Payloads go unsigned (`payload_signing_enabled=False`): SHA-256 of every byte in Python is the
slowest part of an HTTP upload, and content objects are checked against their xxh128 anyway.
When the endpoint is a farmhand farm, existence checks and small objects go in batches.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ._errors import ObjectMissingError, StorageAccessError
from ._farm_batch import BatchUnsupported, FarmBatchClient
from ._layout import StorageSettings

__all__ = ["ObjectStorage", "StoredObject"]

log = logging.getLogger("farmhand.job_attachments")

T = TypeVar("T")
DEFAULT_CONNECTIONS = 32
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: dt.datetime


def describe_client_error(error: Exception, bucket: str, key: str, doing: str) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = details.get("Code", "?")
        text = f"{doing} s3://{bucket}/{key} failed: {code} ({status}): {details.get('Message', '')}".rstrip()
        if code in ("AccessDenied", "403"):
            text += " (the queue's credentials do not reach this object)"
        return text
    return f"{doing} s3://{bucket}/{key} failed: {error}"


class ObjectStorage:
    """One bucket and prefix of a queue, through a boto3 session holding the queue's credentials."""

    def __init__(
        self,
        session: Any,
        settings: StorageSettings,
        *,
        max_connections: int = DEFAULT_CONNECTIONS,
        use_batches: bool = True,
        endpoint_url: str | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.bucket = settings.bucket
        self.max_connections = max_connections
        self._endpoint_url = endpoint_url
        self._use_batches_wanted = use_batches
        self._s3: Any = None
        self._client_lock = threading.Lock()
        self._batch: FarmBatchClient | None = None
        self._batch_checked = False
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="ja-s3")

    @property
    def s3(self) -> Any:
        """The S3 client, made on first use: a session whose files all come from elsewhere (the
        farm's own store on its host) never pays for building one."""
        if self._s3 is None:
            with self._client_lock:
                if self._s3 is None:
                    self._s3 = self.session.client(
                        "s3",
                        endpoint_url=self._endpoint_url,
                        config=Config(
                            signature_version="s3v4",
                            connect_timeout=30,
                            read_timeout=120,
                            retries={"mode": "standard", "max_attempts": 5},
                            max_pool_connections=self.max_connections,
                            s3={"payload_signing_enabled": False},
                            request_checksum_calculation="when_required",
                            response_checksum_validation="when_required",
                        ),
                    )
        return self._s3

    @property
    def endpoint_url(self) -> str:
        return str(self.s3.meta.endpoint_url)

    @property
    def _use_batches(self) -> bool:
        return self._use_batches_wanted and "amazonaws.com" not in self.endpoint_url

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._batch is not None:
            self._batch.close()

    def __enter__(self) -> ObjectStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the farm's batch calls ------------------------------------------------------------------

    def batch(self) -> FarmBatchClient | None:
        """The batch client if the endpoint speaks it (asked once per storage)."""
        if not self._use_batches:
            return None
        with self._lock:
            if self._batch_checked:
                return self._batch
            self._batch_checked = True
            credentials = self.session.get_credentials()
            if credentials is None:
                return None
            # The botocore session's CA bundle (profile `ca_bundle` or AWS_CA_BUNDLE) for TLS.
            ca_bundle = self.session._session.get_config_variable("ca_bundle")
            verify: str | bool = str(ca_bundle) if ca_bundle else True
            client = FarmBatchClient(
                self.endpoint_url,
                self.bucket,
                credentials,
                self.s3.meta.region_name or "us-west-2",
                verify=verify,
                max_connections=8,
            )
            try:
                client.missing([])
            except (BatchUnsupported, StorageAccessError) as error:
                log.debug("no batch calls at %s: %s", self.endpoint_url, error)
                client.close()
                return None
            self._batch = client
            return client

    @property
    def batch_item_limit(self) -> int:
        """The largest object the batch put takes (0 without batch calls)."""
        client = self.batch()
        return client.limits.get("maxItemBytes", 0) if client is not None else 0

    # -- calls ----------------------------------------------------------------------------------

    def _call(self, operation: str, key: str, call: Callable[[], T]) -> T:
        """One S3 call: a missing key is ObjectMissingError, any other failure StorageAccessError;
        both name the object."""
        try:
            return call()
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _NOT_FOUND:
                raise ObjectMissingError(f"s3://{self.bucket}/{key} does not exist") from error
            raise StorageAccessError(describe_client_error(error, self.bucket, key, operation)) from error
        except BotoCoreError as error:
            raise StorageAccessError(describe_client_error(error, self.bucket, key, operation)) from error

    # -- existence -------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def missing(self, keys: Sequence[str]) -> set[str]:
        """Which of `keys` are not stored (one batch call, or HEADs in parallel)."""
        if not keys:
            return set()
        client = self.batch()
        if client is not None:
            return set(client.missing(list(keys)))
        present = self.map(self.exists, keys)
        return {key for key, there in zip(keys, present, strict=True) if not there}

    def map(self, function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`function` over `items` on the storage's threads, results in order."""
        if len(items) <= 1:
            return [function(item) for item in items]
        return list(self._pool.map(function, items))

    # -- whole objects ---------------------------------------------------------------------------

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data}
        if metadata:
            kwargs["Metadata"] = metadata
        if content_type:
            kwargs["ContentType"] = content_type
        self._call("PutObject", key, lambda: self.s3.put_object(**kwargs))

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store several content objects: batched on a farm, else one PUT each in parallel."""
        client = self.batch()
        if client is not None:
            client.put(items)
            return
        self.map(lambda item: self.put_bytes(item[0], item[1]), items)

    def get_bytes(self, key: str) -> tuple[bytes, dict[str, str], dt.datetime]:
        """(bytes, metadata, LastModified); ObjectMissingError names the key when it is absent."""

        def get() -> tuple[bytes, dict[str, str], dt.datetime]:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read(), dict(answer.get("Metadata") or {}), answer["LastModified"]

        return self._call("GetObject", key, get)

    def get_many(self, keys: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """(key, bytes or None when missing), batched on a farm, else parallel GETs; in order."""
        client = self.batch()
        if client is not None:
            step = client.limits.get("maxKeys", 10_000)
            for start in range(0, len(keys), step):
                yield from client.get(keys[start : start + step])
            return

        def fetch(key: str) -> tuple[str, bytes | None]:
            try:
                return key, self.get_bytes(key)[0]
            except ObjectMissingError:
                return key, None

        yield from self._pool.map(fetch, keys)

    def get_range(self, key: str, start: int, end: int, etag: str | None = None) -> bytes:
        """Bytes [start, end) of an object (end exclusive)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
        if etag:
            kwargs["IfMatch"] = etag
        data: bytes = self._call("GetObject", key, lambda: self.s3.get_object(**kwargs)["Body"].read())
        if len(data) != end - start:
            raise StorageAccessError(f"s3://{self.bucket}/{key}: bytes {start}-{end - 1} came back short")
        return data

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's HEAD answer, or None when it is not there."""
        try:
            return dict(
                self._call("HeadObject", key, lambda: self.s3.head_object(Bucket=self.bucket, Key=key))
            )
        except ObjectMissingError:
            return None

    # -- listings --------------------------------------------------------------------------------

    def list(self, prefix: str) -> list[StoredObject]:
        found: list[StoredObject] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents") or []:
                    found.append(StoredObject(item["Key"], int(item["Size"]), item["LastModified"]))
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(
                describe_client_error(error, self.bucket, prefix, "ListObjectsV2")
            ) from error
        return found
