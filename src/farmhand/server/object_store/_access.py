"""What an S3 request does, as far as authorisation is concerned.

The decision itself is the farm's access table's (`farmhand.server.access`, its `s3` lines): the
admin does everything, buckets included; queue credentials reach only keys under their queue's
prefix of their queue's bucket, and write only with `readwrite`; anything else is denied.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["S3Action"]


class S3Action(Enum):
    """What a request does, as far as authorisation is concerned."""

    LIST_BUCKETS = "list-buckets"
    CREATE_BUCKET = "create-bucket"
    DELETE_BUCKET = "delete-bucket"
    HEAD_BUCKET = "head-bucket"
    LIST = "list"  # objects or uploads under a prefix
    READ = "read"  # HEAD/GET an object, list an upload's parts
    WRITE = "write"  # PUT, multipart, delete
