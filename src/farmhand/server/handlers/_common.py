"""What many handlers share: paging tokens, management-resource documents, tags, timestamps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    delete,
    insert,
    select,
    tuple_,
)
from sqlalchemy.engine import Row

from ..farm_secret import InvalidTokenError, farm_secret_of
from ..protocol import ResourceNotFoundError, ValidationError, format_timestamp
from ..store import (
    delete_document,
    find_document,
    insert_document,
    resources,
    save_document,
    tags,
)
from ._registry import Call

DEFAULT_PAGE_SIZE = 100


def encode_token(conn: Connection, purpose: str, values: Sequence[Any]) -> str:
    """An opaque paging token: where the previous page ended, in the list's sort order.

    Tokens are signed with the farm secret for `purpose` (the list they page), so a token the
    server did not mint, or minted for another list, is refused instead of reaching a query.
    """
    return farm_secret_of(conn).mint_token(list(values), f"page:{purpose}")


def decode_token(conn: Connection, purpose: str, token: str, width: int) -> list[Any]:
    try:
        values = farm_secret_of(conn).read_token(token, f"page:{purpose}")
    except InvalidTokenError:
        values = None
    if not isinstance(values, list) or len(values) != width:
        raise ValidationError.for_field("nextToken", "is not a token this list returned")
    return values


def page(
    conn: Connection,
    stmt: Select[Any],
    order: Sequence[ColumnElement[Any]],
    params: dict[str, Any],
    *,
    key_of: Any = None,
    default_size: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[Row[Any]], str | None]:
    """Keyset paging over `order` (ascending, unique): stable while rows are added or removed."""
    size = int(params.get("maxResults") or default_size)
    token = params.get("nextToken")
    # A token pages every list ordered by the same columns (their values have the same types).
    purpose = ",".join(str(column) for column in order)
    if token:
        after = decode_token(conn, purpose, token, len(order))
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    rows = list(conn.execute(stmt.order_by(*order).limit(size + 1)))
    next_token = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        values = key_of(last) if key_of else [last._mapping[c] for c in order]
        next_token = encode_token(conn, purpose, [_plain(v) for v in values])
    return rows, next_token


def _plain(value: Any) -> Any:
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return value


def iso(call: Call) -> str:
    """The call's time as stored in resource documents."""
    return format_timestamp(call.now)


def stamp_created(call: Call, doc: dict[str, Any]) -> dict[str, Any]:
    doc["createdAt"] = iso(call)
    doc["createdBy"] = call.principal.arn
    return doc


def stamp_updated(call: Call, doc: dict[str, Any]) -> dict[str, Any]:
    doc["updatedAt"] = iso(call)
    doc["updatedBy"] = call.principal.arn
    return doc


def jsonable(value: Any) -> Any:
    """Request values (datetimes included) in the form a JSON document column stores."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return format_timestamp(value)
    return value


# --- management resources kept as documents -------------------------------------------------------


def insert_resource(
    call: Call,
    kind: str,
    resource_id: str,
    doc: dict[str, Any],
    *,
    farm_id: str | None = None,
    parent_id: str | None = None,
    ref_id: str | None = None,
) -> None:
    insert_document(
        call.conn,
        kind,
        resource_id,
        jsonable(doc),
        created_at=call.now,
        created_by_id=call.principal.principal_id,
        farm_id=farm_id,
        parent_id=parent_id,
        ref_id=ref_id,
    )


def get_resource(
    conn: Connection,
    kind: str,
    resource_id: str,
    *,
    farm_id: str | None = None,
    parent_id: str | None = None,
    resource_type: str | None = None,
) -> dict[str, Any]:
    """The resource's document, or the `ResourceNotFoundException` AWS answers."""
    doc = find_document(conn, kind, resource_id, farm_id=farm_id, parent_id=parent_id)
    if doc is None:
        raise ResourceNotFoundError(resource_type or kind, resource_id)
    return doc


def save_resource(call: Call, kind: str, resource_id: str, doc: dict[str, Any]) -> None:
    """Write back a changed document (and the columns that mirror it)."""
    save_document(call.conn, kind, resource_id, jsonable(doc))


def delete_resource(call: Call, kind: str, resource_id: str) -> None:
    delete_document(call.conn, kind, resource_id)


def list_resources(
    call: Call,
    kind: str,
    params: dict[str, Any],
    *,
    farm_id: str | None = None,
    parent_id: str | None = None,
    ref_id: str | None = None,
    status: str | None = None,
    display_name: str | None = None,
    created_by_id: str | None = None,
    where: ColumnElement[bool] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a kind's documents in creation order, with the filters the model's lists allow."""
    stmt = select(resources.c.doc, resources.c.created_at, resources.c.resource_id).where(
        resources.c.kind == kind
    )
    for column, value in (
        ("farm_id", farm_id),
        ("parent_id", parent_id),
        ("ref_id", ref_id),
        ("status", status),
        ("display_name", display_name),
        ("created_by_id", created_by_id),
    ):
        if value is not None:
            stmt = stmt.where(resources.c[column] == value)
    if where is not None:
        stmt = stmt.where(where)
    rows, token = page(call.conn, stmt, [resources.c.created_at, resources.c.resource_id], params)
    return [dict(row.doc) for row in rows], token


# --- tags ------------------------------------------------------------------------------------------


# AWS's limits on tags (the model leaves them open; the store's columns hold no more).
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
MAX_TAGS_PER_REQUEST = 50


def check_tags(new_tags: dict[str, str] | None, member: str = "tags") -> None:
    """Refuse tags AWS would refuse: too many, an empty or over-long key, an over-long value."""
    if not new_tags:
        return
    if len(new_tags) > MAX_TAGS_PER_REQUEST:
        raise ValidationError.for_field(member, f"must have at most {MAX_TAGS_PER_REQUEST} tags")
    for key, value in new_tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
            raise ValidationError.for_field(f"{member} key", f"must have 1 to {MAX_TAG_KEY_CHARS} characters")
        if len(value) > MAX_TAG_VALUE_CHARS:
            raise ValidationError.for_field(
                f"{member}.{key[:40]}", f"must have at most {MAX_TAG_VALUE_CHARS} characters"
            )


def save_tags(call: Call, resource_arn: str, new_tags: dict[str, str] | None) -> None:
    check_tags(new_tags)
    for key, value in (new_tags or {}).items():
        call.conn.execute(
            delete(tags).where(and_(tags.c.resource_arn == resource_arn, tags.c.tag_key == key))
        )
        call.conn.execute(insert(tags).values(resource_arn=resource_arn, tag_key=key, tag_value=value))


def drop_tags(call: Call, resource_arn: str) -> None:
    call.conn.execute(delete(tags).where(tags.c.resource_arn == resource_arn))
