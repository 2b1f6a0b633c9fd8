"""The object store's requests against the access table (its `s3` lines).

Queue credentials reach only keys under their queue's job-attachment prefix in their queue's
bucket, and write only when they are not read credentials; the admin does everything, buckets
included; nobody else reaches the store (users go through their queue-user credentials).
"""

from __future__ import annotations

from sqlalchemy import Connection

from ._authorize import Checker, deny
from ._cache import UNCACHED, CachedReads
from ._callers import Caller, CallerKind
from ._refs import Ref
from ._rules import QueueUse, Rule
from ._table import rule_for

BUCKET_WIDE = "head-bucket"  # names the bucket, no key


def object_allowed(caller: Caller, rule: Rule, action: str, bucket: str, key: str) -> bool:
    """Whether `caller` may do `action` on `bucket`/`key` (the store is not consulted)."""
    if caller.kind is CallerKind.ADMIN:
        return True
    if caller.kind not in (CallerKind.QUEUE, CallerKind.QUEUE_READ) or caller.s3 is None:
        return False
    if rule.queue is QueueUse.NO:
        return False
    own_bucket, prefix, access = caller.s3
    writes = rule.queue is QueueUse.SUBMIT
    if writes and (caller.kind is CallerKind.QUEUE_READ or access != "readwrite"):
        return False
    # The prefix is "ROOT/": never the bare root's neighbours ("ROOT-other/...").
    under = bool(prefix) and prefix.endswith("/") and key.startswith(prefix)
    return bucket == own_bucket and (action == BUCKET_WIDE or under)


def authorize_object(
    conn: Connection, caller: Caller, action: str, bucket: str, key: str, reads: CachedReads = UNCACHED
) -> None:
    """Allow the object-store request or raise AccessDeniedException (also for revoked credentials)."""
    rule = rule_for("s3", action)
    target = Ref("unknown", stream=f"s3://{bucket}/{key}")
    if not object_allowed(caller, rule, action, bucket, key):
        raise deny(caller, "s3", action, target)
    if caller.kind is not CallerKind.ADMIN and not Checker(conn, caller, reads).alive():
        raise deny(caller, "s3", action, None, "these credentials were revoked")
