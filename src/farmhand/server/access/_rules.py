"""The shape of one line of the access table: what a call names and who may make it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from . import _refs
from ._refs import Target


class QueueUse(enum.Enum):
    """What queue credentials may do with the call, on their own queue only."""

    NO = "no"
    READ = "read"  # every queue role, read credentials included
    SUBMIT = "submit"  # user and worker queue roles (not read credentials)


class WorkerUse(enum.Enum):
    """What worker credentials may do with the call."""

    NO = "no"
    OWN = "own"  # the call names the calling worker itself
    SESSIONS = "sessions"  # the calling worker, and the queues/jobs of its open sessions
    LOGS = "logs"  # its own log stream, and the log streams of its sessions


class Audit(enum.Enum):
    """Which successful calls the audit trail records (denied calls are always recorded)."""

    WRITES = "writes"  # when the operation writes
    CHANGES = "changes"  # when it changed something (a worker's no-op poll is not recorded)
    NEVER = "never"  # log shipping: the audit trail would record itself


@dataclass(frozen=True)
class Rule:
    """Who may make a call, on what it names.

    `level`: the membership level a farm user needs on every resource named (None: no user, only
    the admin). `items`: the batch member whose items each name a resource (denied items are
    answered in `errors`, the rest run). `lists`: the output member cut down to what the caller
    may see (the call itself then needs no level of users). `principal_filter`: the `principalId`
    member, which a non-admin may only set to itself. `grants`: a membership change, where a
    MANAGER may neither grant nor take away OWNER.
    """

    target: Target = _refs.nothing
    level: str | None = None
    queue: QueueUse = QueueUse.NO
    fleet_read: bool = False
    worker: WorkerUse = WorkerUse.NO
    items: str | None = None
    lists: str | None = None
    principal_filter: bool = False
    grants: bool = False
    audit: Audit = Audit.WRITES
    anyone: bool = False  # any signed caller (STS GetCallerIdentity)


ADMIN_ONLY = Rule()
