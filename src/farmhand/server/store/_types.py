"""Column types shared by every table: portable across SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class Epoch(TypeDecorator[dt.datetime]):
    """An aware UTC datetime stored as epoch seconds: sortable and comparable in SQL on both engines."""

    impl = Float(precision=53)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | float | None, dialect: Dialect) -> float | None:
        if value is None:
            return None
        if isinstance(value, int | float):
            return float(value)  # already epoch seconds (e.g. a paging token's sort key)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()

    def process_result_value(self, value: Any | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.fromtimestamp(float(value), UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
