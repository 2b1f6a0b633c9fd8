"""Rows as the model's shapes and requests as rows: a member `fooBar` lives in the column `foo_bar`.

Output shapes are filled from a row by their members' names, and request members are written to the
columns of their names, so no hand list of members can drift from the botocore model.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import Table

from .protocol import service_model

__all__ = ["column_of", "columns_from_request", "from_row", "shape_members"]


def column_of(member: str) -> str:
    """The column that stores a shape member: `fooBar` in `foo_bar`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", member).lower()


@functools.cache
def shape_members(shape_name: str) -> tuple[tuple[str, str], ...]:
    """(member, column) for each member of a shape."""
    shape: Any = service_model("deadline").shape_for(shape_name)
    return tuple((member, column_of(member)) for member in shape.members)


@functools.cache
def _stored_members(shape_name: str, table: Table) -> tuple[tuple[str, str], ...]:
    """(member, column) for each member of a request shape that `table` stores by its name (members
    taken from the URI or a header name the row; they are not written from the body)."""
    shape: Any = service_model("deadline").shape_for(shape_name)
    return tuple(
        (member, column_of(member))
        for member, member_shape in shape.members.items()
        if not member_shape.serialization.get("location") and column_of(member) in table.c
    )


def columns_from_request(
    shape_name: str, params: dict[str, Any], table: Table, *, given_only: bool = False
) -> dict[str, Any]:
    """The values of a request's members that `table` stores, keyed by column (None for members not
    given, unless `given_only`)."""
    return {
        column: params.get(member)
        for member, column in _stored_members(shape_name, table)
        if not given_only or member in params
    }


def from_row(shape_name: str, row: Any, **computed: Any) -> dict[str, Any]:
    """The members of `shape_name` a row holds, plus those computed by the caller; absent ones
    (None) are left out, as the service leaves them out."""
    mapping = row._mapping
    out: dict[str, Any] = {}
    for member, column in shape_members(shape_name):
        value = computed[member] if member in computed else mapping.get(column)
        if value is not None:
            out[member] = value
    return out
