"""Membership levels and their store: who holds which level where, and what a principal holds on a resource.

Levels rank VIEWER < CONTRIBUTOR < MANAGER < OWNER. A principal's level on a resource is the highest
of its own memberships and its groups' memberships on that resource and its ancestors (farm →
queue/fleet → job), as Deadline Cloud documents membership inheritance.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, and_, delete, insert, select, update

from ..identity_store import groups_of
from ..store import memberships
from ._cache import UNCACHED, CachedReads
from ._refs import Ref

LEVELS = ("VIEWER", "CONTRIBUTOR", "MANAGER", "OWNER")
RANK = {level: rank for rank, level in enumerate(LEVELS, start=1)}
NO_LEVEL = 0


def rank(level: str | None) -> int:
    return RANK.get(level or "", NO_LEVEL)


class Levels:
    """One principal's levels, read once per farm (and kept by the access cache between calls)."""

    def __init__(self, conn: Connection, principal_id: str, reads: CachedReads = UNCACHED) -> None:
        self.conn = conn
        self.reads = reads
        self.principal_ids = reads.lookup(
            ("groups", principal_id), lambda: (principal_id, *groups_of(conn, principal_id))
        )
        self._by_farm: dict[str, dict[tuple[str, str], int]] = {}

    def _farm(self, farm_id: str) -> dict[tuple[str, str], int]:
        found = self._by_farm.get(farm_id)
        if found is None:
            found = self.reads.lookup(
                ("levels", self.principal_ids, farm_id), lambda: self._read_farm(farm_id)
            )
            self._by_farm[farm_id] = found
        return found

    def _read_farm(self, farm_id: str) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        rows = self.conn.execute(
            select(
                memberships.c.resource_kind, memberships.c.resource_id, memberships.c.membership_level
            ).where(
                and_(memberships.c.principal_id.in_(self.principal_ids), memberships.c.farm_id == farm_id)
            )
        )
        for row in rows:
            key = (row.resource_kind, row.resource_id)
            found[key] = max(found.get(key, NO_LEVEL), rank(row.membership_level))
        return found

    def of(self, ref: Ref) -> int:
        """The rank held on `ref` (0: none). Farms count only farm memberships, as farm lists do."""
        if not ref.farm:
            return NO_LEVEL
        held = self._farm(ref.farm)
        best = held.get(("farm", ref.farm), NO_LEVEL)
        if ref.kind in ("queue", "job", "queue-logs", "association") and ref.queue:
            best = max(best, held.get(("queue", ref.queue), NO_LEVEL))
        if ref.kind in ("fleet", "worker", "fleet-logs", "association") and ref.fleet:
            best = max(best, held.get(("fleet", ref.fleet), NO_LEVEL))
        if ref.kind == "job" and ref.job:
            best = max(best, held.get(("job", ref.job), NO_LEVEL))
        return best


def membership_level(conn: Connection, kind: str, resource_id: str, principal_id: str) -> str | None:
    """The level `principal_id` itself holds on the resource (not inherited), if any."""
    value = conn.execute(
        select(memberships.c.membership_level).where(
            and_(
                memberships.c.resource_kind == kind,
                memberships.c.resource_id == resource_id,
                memberships.c.principal_id == principal_id,
            )
        )
    ).scalar()
    return None if value is None else str(value)


def put_membership(
    conn: Connection,
    *,
    kind: str,
    resource_id: str,
    farm_id: str,
    queue_id: str | None,
    principal_id: str,
    principal_type: str,
    identity_store: str,
    level: str,
    now: dt.datetime,
) -> None:
    """Add the membership, or change its level when the principal is a member already."""
    key = and_(
        memberships.c.resource_kind == kind,
        memberships.c.resource_id == resource_id,
        memberships.c.principal_id == principal_id,
    )
    changed = conn.execute(
        update(memberships)
        .where(key)
        .values(membership_level=level, principal_type=principal_type, identity_store_id=identity_store)
    ).rowcount
    if not changed:
        conn.execute(
            insert(memberships).values(
                resource_kind=kind,
                resource_id=resource_id,
                principal_id=principal_id,
                farm_id=farm_id,
                queue_id=queue_id,
                principal_type=principal_type,
                identity_store_id=identity_store,
                membership_level=level,
                created_at=now,
            )
        )


def remove_membership(conn: Connection, kind: str, resource_id: str, principal_id: str) -> bool:
    removed = conn.execute(
        delete(memberships).where(
            and_(
                memberships.c.resource_kind == kind,
                memberships.c.resource_id == resource_id,
                memberships.c.principal_id == principal_id,
            )
        )
    ).rowcount
    return bool(removed)
