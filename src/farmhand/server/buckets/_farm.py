"""The farm's own object store seen as a bucket store: its S3 errors become bucket-store errors."""

from __future__ import annotations

from ..object_store import ObjectStore, S3Error
from ._errors import BucketStoreError, NoStoreError, ObjectTooLargeError

__all__ = ["FarmStore"]


class FarmStore:
    """Reads and writes of the service (manifest checks, copied templates) in the farm's store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read_object(self, bucket: str, key: str, max_bytes: int) -> bytes | None:
        try:
            return self.store.read_object(bucket, key, max_bytes)
        except S3Error as exc:
            raise _translated(exc, bucket, key) from exc

    def xxh128_of(self, bucket: str, key: str) -> str | None:
        try:
            return self.store.xxh128_of(bucket, key)
        except S3Error as exc:
            raise _translated(exc, bucket, key) from exc

    def write_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        try:
            self.store.write_object(bucket, key, body, content_type)
        except S3Error as exc:
            raise _translated(exc, bucket, key) from exc


def _translated(error: S3Error, bucket: str, key: str) -> BucketStoreError:
    if error.code == "NoSuchBucket":
        return NoStoreError(f"no object store of this farm holds bucket {bucket}")
    if error.code == "EntityTooLarge":
        return ObjectTooLargeError(error.message)
    return BucketStoreError(
        f"the farm's object store could not use {bucket}/{key}: {error.code}: {error.message}"
    )
