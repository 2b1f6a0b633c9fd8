"""What can go wrong reaching a bucket's store."""

from __future__ import annotations


class BucketStoreError(Exception):
    """The store holding a bucket could not be reached or refused the farm's service identity."""


class ObjectTooLargeError(BucketStoreError):
    """An object the service would read is larger than it accepts."""


class NoStoreError(BucketStoreError):
    """No store of this farm holds the bucket."""
