"""Where each queue's bucket lives, and what the service does with it.

A bucket named in a queue's `jobAttachmentSettings` lives either in the farm's own object store or
in an external S3-compatible store configured for the server (`--object-stores FILE`). The service
reads input manifests from it (CreateJob checks them), writes job templates into it
(CopyJobTemplate), and, for external stores, obtains queue credentials from the store's STS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ._errors import BucketStoreError, NoStoreError, ObjectTooLargeError
from ._external import (
    ExternalStore,
    ExternalStoreConfig,
    IssuedCredentials,
    load_external_stores,
)
from ._farm import FarmStore

__all__ = [
    "BucketStore",
    "BucketStoreError",
    "BucketStores",
    "ExternalStore",
    "ExternalStoreConfig",
    "FarmStore",
    "IssuedCredentials",
    "NoStoreError",
    "ObjectTooLargeError",
    "load_external_stores",
]


class BucketStore(Protocol):
    """The few object operations the service itself needs."""

    def read_object(self, bucket: str, key: str, max_bytes: int) -> bytes | None: ...

    def xxh128_of(self, bucket: str, key: str) -> str | None: ...

    def write_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


@dataclass
class BucketStores:
    """The farm's own store (if it serves one) and the external stores, by the buckets they hold."""

    farm: BucketStore | None = None
    external: list[ExternalStore] = field(default_factory=list)

    def external_store(self, bucket: str) -> ExternalStore | None:
        """The external store configured to hold `bucket`, if any."""
        for store in self.external:
            if bucket in store.config.buckets:
                return store
        return None

    def store_for(self, bucket: str) -> BucketStore:
        """The store holding `bucket`: an external one that lists it, else the farm's own."""
        found: BucketStore | None = self.external_store(bucket) or self.farm
        if found is None:
            raise NoStoreError(f"no object store of this farm holds bucket {bucket}")
        return found
