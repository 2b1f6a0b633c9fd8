"""Applying the access table to one call: allow it, narrow it (batch items, list items) or deny it.

Runs inside the call's transaction, before the handler: a denied call reads nothing and changes
nothing. Scoped credentials are also checked against the store on every call, so credentials of a
deleted queue, fleet or worker stop working at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, select

from ..identity_store import lookup_principal
from ..protocol import AccessDeniedError
from ..store import jobs, resources, sessions, workers
from ._cache import UNCACHED, CachedReads
from ._callers import Caller, CallerKind
from ._memberships import RANK, Levels, membership_level, rank
from ._refs import Ref, ref_of_item
from ._rules import QueueUse, Rule, WorkerUse
from ._table import rule_for

OWNER_RANK = RANK["OWNER"]
MANAGER_RANK = RANK["MANAGER"]
QUEUE_KINDS = ("queue", "job", "queue-logs", "association")
FLEET_KINDS = ("fleet", "worker", "fleet-logs", "association")
MEMBER_KINDS = {"Farm": "farm", "Queue": "queue", "Fleet": "fleet", "Job": "job"}


@dataclass
class Decision:
    """An allowed call: the parameters its handler gets, and what to do with its answer."""

    service: str
    operation: str
    rule: Rule
    refs: list[Ref]
    params: dict[str, Any]
    denied_items: list[dict[str, Any]] = field(default_factory=list)
    viewer: Checker | None = None  # when set, list items are cut down to what it may see

    def finish(self, output: dict[str, Any] | None) -> dict[str, Any] | None:
        if output is None:
            return output
        if self.denied_items:
            output = {**output, "errors": [*(output.get("errors") or []), *self.denied_items]}
        member = self.rule.lists
        if self.viewer is not None and member and member in output:
            viewer, rule = self.viewer, self.rule
            kept = [i for i in output[member] if viewer.allows(rule, ref_of_item(i, self.params))]
            output = {**output, member: kept}
        return output


def deny(caller: Caller, service: str, operation: str, ref: Ref | None, why: str = "") -> AccessDeniedError:
    where = f" on {ref.path()}" if ref is not None else ""
    reason = f": {why}" if why else ""
    return AccessDeniedError(
        f"{caller.arn} is not authorized to perform {service}:{operation}{where}{reason}"
    )


def authorize(
    conn: Connection,
    caller: Caller,
    service: str,
    operation: str,
    params: dict[str, Any],
    reads: CachedReads = UNCACHED,
) -> Decision:
    """Allow the call (perhaps narrowed) or raise AccessDeniedException. `reads`: the server's access
    cache for this call (taken before its transaction began)."""
    rule = rule_for(service, operation)
    refs = rule.target(params)
    decision = Decision(service, operation, rule, list(refs), params)
    if caller.kind is CallerKind.ADMIN:
        subject = params.get("principalId") if rule.principal_filter else None
        if subject:
            # The admin lists what another principal may see.
            decision.params = {k: v for k, v in params.items() if k != "principalId"}
            decision.viewer = Checker(conn, Caller(CallerKind.USER, str(subject), ""), reads)
        return decision
    checker = Checker(conn, caller, reads)
    if not checker.alive():
        raise deny(caller, service, operation, None, "these credentials were revoked")
    if rule.anyone:
        return decision
    if rule.principal_filter:
        subject = params.get("principalId")
        if subject is not None and subject != caller.principal_id:
            raise deny(caller, service, operation, None, "principalId may only name the caller")
        decision.params = {k: v for k, v in params.items() if k != "principalId"}
    if rule.items:
        allowed, denied = [], []
        for item in params.get(rule.items) or []:
            ref = ref_of_item(item, params)
            decision.refs.append(ref)
            if checker.allows(rule, ref):
                allowed.append(item)
            else:
                denied.append(_denied_item(item, deny(caller, service, operation, ref)))
        decision.params = {**decision.params, rule.items: allowed}
        decision.denied_items = denied
    elif not refs:
        raise deny(caller, service, operation, None)
    if rule.lists:
        decision.viewer = checker
        if caller.kind is CallerKind.USER:
            return decision  # users see the items they are members of, whatever the list's parent
        refs = [r for r in refs if r.kind != "account"]
    for ref in refs:
        if not checker.allows(rule, ref):
            raise deny(caller, service, operation, ref)
    if rule.grants:
        checker.check_grant(operation, params, refs[0])
    return decision


def _denied_item(item: Mapping[str, Any], error: AccessDeniedError) -> dict[str, Any]:
    """The `errors` entry of a denied batch item: its ids, the code and message (inside a union's member)."""
    if len(item) == 1:
        ((member, inner),) = item.items()
        if isinstance(inner, Mapping):
            return {member: _denied_item(inner, error)}
    ids = {k: v for k, v in item.items() if k.endswith("Id") and isinstance(v, str)}
    return {**ids, "code": error.code, "message": error.message}


class Checker:
    """One caller's access to named resources, with what it read from the store kept for the call."""

    def __init__(self, conn: Connection, caller: Caller, reads: CachedReads = UNCACHED) -> None:
        self.conn = conn
        self.caller = caller
        self.reads = reads
        self._levels: Levels | None = None
        self._sessions: list[Any] | None = None
        self._job_queues: dict[tuple[str | None, str | None], str | None] = {}

    @property
    def levels(self) -> Levels:
        if self._levels is None:
            self._levels = Levels(self.conn, self.caller.principal_id, self.reads)
        return self._levels

    def alive(self) -> bool:
        """Whether what the credentials belong to still exists (deleting it revokes them; so does
        disabling a user)."""
        c = self.caller
        key = ("alive", c.kind, c.principal_id, c.farm_id, c.queue_id, c.fleet_id, c.worker_id)
        return self.reads.lookup(key, self._read_alive)

    def _read_alive(self) -> bool:
        c = self.caller
        if c.kind is CallerKind.USER:
            user = lookup_principal(self.conn, c.principal_id)
            return user is not None and user.principal_type == "USER" and user.enabled
        if c.kind in (CallerKind.QUEUE, CallerKind.QUEUE_READ):
            found = _resource_exists("queue", c.queue_id, c.farm_id)
        elif c.kind is CallerKind.FLEET_READ:
            found = _resource_exists("fleet", c.fleet_id, c.farm_id)
        elif c.kind is CallerKind.WORKER:
            found = select(workers.c.worker_id).where(
                and_(
                    workers.c.worker_id == c.worker_id,
                    workers.c.fleet_id == c.fleet_id,
                    workers.c.farm_id == c.farm_id,
                )
            )
        else:
            return False
        return self.conn.execute(found).first() is not None

    def allows(self, rule: Rule, ref: Ref) -> bool:
        kind = self.caller.kind
        if ref.kind == "job" and ref.queue is None:
            ref = self._with_queue(ref)
        if kind is CallerKind.USER:
            return self._user_allows(rule, ref)
        if kind in (CallerKind.QUEUE, CallerKind.QUEUE_READ):
            return self._queue_allows(rule, ref)
        if kind is CallerKind.FLEET_READ:
            return rule.fleet_read and self._in_own_fleet(ref) and ref.kind in FLEET_KINDS
        if kind is CallerKind.WORKER:
            return self._worker_allows(rule, ref)
        return False

    def _user_allows(self, rule: Rule, ref: Ref) -> bool:
        if rule.level is None or ref.kind in ("account", "unknown"):
            return False
        need = OWNER_RANK if ref.kind == "audit-logs" else rank(rule.level)
        return self.levels.of(ref) >= need

    def _queue_allows(self, rule: Rule, ref: Ref) -> bool:
        if rule.queue is QueueUse.NO:
            return False
        if rule.queue is QueueUse.SUBMIT and self.caller.kind is CallerKind.QUEUE_READ:
            return False
        c = self.caller
        return ref.kind in QUEUE_KINDS and ref.farm == c.farm_id and ref.queue == c.queue_id

    def _in_own_fleet(self, ref: Ref) -> bool:
        return ref.farm == self.caller.farm_id and ref.fleet == self.caller.fleet_id

    def _worker_allows(self, rule: Rule, ref: Ref) -> bool:
        use, c = rule.worker, self.caller
        if use is WorkerUse.NO:
            return False
        if ref.kind == "worker":
            return self._in_own_fleet(ref) and ref.worker == c.worker_id
        if use is WorkerUse.SESSIONS and ref.kind in ("queue", "job"):
            return any(
                s.farm_id == ref.farm
                and s.queue_id == ref.queue
                and (ref.kind == "queue" or s.job_id == ref.job)
                and s.lifecycle_status != "ENDED"
                for s in self._own_sessions()
            )
        if use is WorkerUse.LOGS and ref.kind == "fleet-logs":
            return self._in_own_fleet(ref) and ref.stream == c.worker_id
        if use is WorkerUse.LOGS and ref.kind == "queue-logs":
            return any(
                s.farm_id == ref.farm and s.queue_id == ref.queue and s.session_id == ref.stream
                for s in self._own_sessions()
            )
        return False

    def _own_sessions(self) -> list[Any]:
        if self._sessions is None:
            self._sessions = list(
                self.conn.execute(
                    select(
                        sessions.c.session_id,
                        sessions.c.farm_id,
                        sessions.c.queue_id,
                        sessions.c.job_id,
                        sessions.c.lifecycle_status,
                    ).where(sessions.c.worker_id == self.caller.worker_id)
                )
            )
        return self._sessions

    def _with_queue(self, ref: Ref) -> Ref:
        """A job named by id alone (`sourceJobId`, entity identifiers), with its queue looked up."""
        key = (ref.farm, ref.job)
        if key not in self._job_queues:
            self._job_queues[key] = self.reads.lookup(
                ("job-queue", *key),
                lambda: self.conn.execute(
                    select(jobs.c.queue_id).where(and_(jobs.c.job_id == ref.job, jobs.c.farm_id == ref.farm))
                ).scalar(),
            )
        return Ref("job", farm=ref.farm, queue=self._job_queues[key], job=ref.job)

    def check_grant(self, operation: str, params: Mapping[str, Any], ref: Ref) -> None:
        """Below OWNER, a MANAGER may neither make an OWNER nor change or remove one."""
        if self.levels.of(ref) >= OWNER_RANK:
            return
        kind = MEMBER_KINDS[next(k for k in MEMBER_KINDS if operation.endswith(k))]
        granted = params.get("membershipLevel")
        if granted is not None and rank(granted) > MANAGER_RANK:
            raise deny(self.caller, "deadline", operation, ref, f"only an OWNER may grant {granted}")
        resource_id = {"farm": ref.farm, "queue": ref.queue, "fleet": ref.fleet, "job": ref.job}[kind]
        current = membership_level(self.conn, kind, str(resource_id), str(params.get("principalId")))
        if rank(current) > MANAGER_RANK:
            raise deny(self.caller, "deadline", operation, ref, f"only an OWNER may change an {current}")


def _resource_exists(kind: str, resource_id: str | None, farm_id: str | None) -> Any:
    return select(resources.c.resource_id).where(
        and_(
            resources.c.kind == kind,
            resources.c.resource_id == resource_id,
            resources.c.farm_id == farm_id,
        )
    )
