"""Management resources (farms, queues, fleets, environments, associations, ...) kept as JSON
documents in the `resources` table: the one place that writes the table and reads its documents."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, delete, insert, select, update

from ._schema import resources


def _mirrored(doc: dict[str, Any]) -> dict[str, Any]:
    """The columns that mirror a document, for filters and listings."""
    return {"display_name": doc.get("displayName") or doc.get("name"), "status": doc.get("status")}


def insert_document(
    conn: Connection,
    kind: str,
    resource_id: str,
    doc: dict[str, Any],
    *,
    created_at: dt.datetime,
    created_by_id: str,
    farm_id: str | None = None,
    parent_id: str | None = None,
    ref_id: str | None = None,
) -> None:
    """Store a new resource's document (`doc` already in JSON form)."""
    conn.execute(
        insert(resources).values(
            kind=kind,
            resource_id=resource_id,
            farm_id=farm_id,
            parent_id=parent_id,
            ref_id=ref_id,
            created_at=created_at,
            created_by_id=created_by_id,
            doc=doc,
            **_mirrored(doc),
        )
    )


@functools.cache
def _find_statement(by_farm: bool, by_parent: bool) -> Select[Any]:
    """Built once per filter shape: building SQLAlchemy expressions costs more than running them."""
    clause = and_(resources.c.kind == bindparam("kind"), resources.c.resource_id == bindparam("resource_id"))
    if by_farm:
        clause = and_(clause, resources.c.farm_id == bindparam("farm_id"))
    if by_parent:
        clause = and_(clause, resources.c.parent_id == bindparam("parent_id"))
    return select(resources.c.doc).where(clause)


def find_document(
    conn: Connection, kind: str, resource_id: str, *, farm_id: str | None = None, parent_id: str | None = None
) -> dict[str, Any] | None:
    """A resource's document, or None (scoped to a farm or parent when given)."""
    values = {"kind": kind, "resource_id": resource_id, "farm_id": farm_id, "parent_id": parent_id}
    statement = _find_statement(farm_id is not None, parent_id is not None)
    doc = conn.execute(statement, {k: v for k, v in values.items() if v is not None}).scalar()
    return None if doc is None else dict(doc)


def save_document(conn: Connection, kind: str, resource_id: str, doc: dict[str, Any]) -> None:
    """Write back a changed document (already in JSON form) and the columns that mirror it."""
    conn.execute(
        update(resources)
        .where(and_(resources.c.kind == kind, resources.c.resource_id == resource_id))
        .values(doc=doc, **_mirrored(doc))
    )


def delete_document(conn: Connection, kind: str, resource_id: str) -> None:
    conn.execute(
        delete(resources).where(and_(resources.c.kind == kind, resources.c.resource_id == resource_id))
    )


def count_documents(conn: Connection, kind: str, **where: str) -> int:
    """How many resources of a kind match the column filters (counted up to 1000)."""
    stmt = select(resources.c.resource_id).where(resources.c.kind == kind)
    for column, value in where.items():
        stmt = stmt.where(resources.c[column] == value)
    return len(conn.execute(stmt.limit(1000)).all())
