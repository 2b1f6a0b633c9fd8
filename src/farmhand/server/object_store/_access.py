"""Who may do what in the farm's object store: one function decides every S3 request.

Admin principals (users without a scope) may do everything, buckets included. Queue credentials carry
an `s3` entry in their scope, `{"bucket": NAME, "prefix": "ROOT/", "access": "read" | "readwrite"}`:
they reach only keys under that prefix of that bucket, and write only with `readwrite`. Anything else
is denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from ._errors import S3Error

__all__ = ["S3Action", "authorize"]


class S3Action(Enum):
    """What a request does, as far as authorisation is concerned."""

    LIST_BUCKETS = "list-buckets"
    CREATE_BUCKET = "create-bucket"
    DELETE_BUCKET = "delete-bucket"
    HEAD_BUCKET = "head-bucket"
    LIST = "list"  # objects or uploads under a prefix
    READ = "read"  # HEAD/GET an object, list an upload's parts
    WRITE = "write"  # PUT, multipart, delete


_BUCKET_ADMIN = {S3Action.LIST_BUCKETS, S3Action.CREATE_BUCKET, S3Action.DELETE_BUCKET}
_WRITES = {S3Action.WRITE}


def authorize(
    principal_arn: str,
    scope: Mapping[str, Any] | None,
    is_admin: bool,
    action: S3Action,
    bucket: str = "",
    key_or_prefix: str = "",
) -> None:
    """Raise AccessDenied unless the principal may do `action` on `bucket`/`key_or_prefix`."""
    if is_admin:
        return
    entry = (scope or {}).get("s3")
    allowed = (
        isinstance(entry, Mapping)
        and action not in _BUCKET_ADMIN
        and entry.get("bucket") == bucket
        and (action is S3Action.HEAD_BUCKET or _under(key_or_prefix, str(entry.get("prefix") or "")))
        and (action not in _WRITES or entry.get("access") == "readwrite")
    )
    if not allowed:
        target = f"{bucket}/{key_or_prefix}" if bucket else "the object store"
        raise S3Error("AccessDenied", f"{principal_arn} is not authorized to {action.value} {target}")


def _under(key: str, prefix: str) -> bool:
    """`key` lies below the scope's prefix (which must be a non-empty 'ROOT/' form)."""
    return bool(prefix) and prefix.endswith("/") and key.startswith(prefix)
