"""Who may do what: memberships, the one access table, its enforcement on every call, the audit trail.

The dispatcher classifies the caller (`caller_of`), asks `authorize` before any handler runs, lets
the returned `Decision` narrow the answer, and records changes and denials with `record`.
Handlers never check access themselves; membership handlers use the store functions here.
"""

from ._audit import ALLOWED, DENIED, farm_of, record, resource_of
from ._authorize import Decision, authorize
from ._cache import AccessCache, CachedReads
from ._callers import ADMIN_PRINCIPAL_ID, Caller, CallerKind, caller_of
from ._memberships import LEVELS, membership_level, put_membership, remove_membership
from ._objects import authorize_object, object_allowed
from ._refs import AUDIT_LOG_GROUP_PREFIX, Ref, audit_log_group
from ._rules import Audit, QueueUse, Rule, WorkerUse
from ._table import TABLE, rule_for

__all__ = [
    "ADMIN_PRINCIPAL_ID",
    "ALLOWED",
    "AUDIT_LOG_GROUP_PREFIX",
    "DENIED",
    "LEVELS",
    "TABLE",
    "AccessCache",
    "Audit",
    "CachedReads",
    "Caller",
    "CallerKind",
    "Decision",
    "QueueUse",
    "Ref",
    "Rule",
    "WorkerUse",
    "audit_log_group",
    "authorize",
    "authorize_object",
    "caller_of",
    "farm_of",
    "membership_level",
    "object_allowed",
    "put_membership",
    "record",
    "remove_membership",
    "resource_of",
    "rule_for",
]
