"""Where log groups, streams and events are kept: the one writer of the log tables.

PutLogEvents and the audit trail both append through `append_events`, so a stream's counters
(stored bytes, upload count, first and last event) mean the same whoever wrote to it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from ..store import log_events, log_groups, log_streams


def _insert_ignoring_duplicates(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when it was inserted."""
    return len(conn.execute(_insert_unless_present(conn.dialect.name, table), values).all()) > 0


@functools.cache
def _insert_unless_present(dialect_name: str, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the key, with a bound parameter per column, built
    once per dialect and table (every audited call and every PutLogEvents runs it)."""
    dialect = sqlite if dialect_name == "sqlite" else postgresql
    key = next(iter(table.primary_key.columns))
    columns: dict[str, Any] = {column.name: bindparam(column.name) for column in _INSERTED[table.name]}
    return dialect.insert(table).values(**columns).on_conflict_do_nothing().returning(key)


def new_group(conn: Connection, group: str, now_ms: int) -> bool:
    """Create a log group unless it exists; True when it was created."""
    return _insert_ignoring_duplicates(conn, log_groups, {"log_group_name": group, "creation_time": now_ms})


def new_stream(conn: Connection, group: str, stream: str, now_ms: int) -> bool:
    """Create a log stream unless it exists; True when it was created."""
    return _insert_ignoring_duplicates(
        conn,
        log_streams,
        {
            "log_group_name": group,
            "log_stream_name": stream,
            "creation_time": now_ms,
            "stored_bytes": 0,
            "upload_count": 0,
        },
    )


def group_exists(conn: Connection, group: str) -> bool:
    found = conn.execute(select(log_groups.c.log_group_name).where(log_groups.c.log_group_name == group))
    return found.first() is not None


def _stream_key(group: str, stream: str) -> Any:
    return and_(log_streams.c.log_group_name == group, log_streams.c.log_stream_name == stream)


def stream_row(conn: Connection, group: str, stream: str) -> Row[Any] | None:
    return conn.execute(select(log_streams).where(_stream_key(group, stream))).first()


def set_retention(conn: Connection, group: str, days: int | None) -> None:
    """Keep a group's events `days` days (None: for ever); the retention purge drops older ones."""
    conn.execute(
        update(log_groups).where(log_groups.c.log_group_name == group).values(retention_in_days=days)
    )


def delete_group(conn: Connection, group: str) -> None:
    conn.execute(delete(log_events).where(log_events.c.log_group_name == group))
    conn.execute(delete(log_streams).where(log_streams.c.log_group_name == group))
    conn.execute(delete(log_groups).where(log_groups.c.log_group_name == group))


def delete_stream(conn: Connection, group: str, stream: str) -> None:
    in_stream = and_(log_events.c.log_group_name == group, log_events.c.log_stream_name == stream)
    conn.execute(delete(log_events).where(in_stream))
    conn.execute(delete(log_streams).where(_stream_key(group, stream)))


def storable(message: str) -> str:
    """A log line as stored: a NUL (which PostgreSQL text cannot hold) becomes U+FFFD, as on both
    stores, and the rest of the line is kept."""
    return message.replace("\x00", "\ufffd") if "\x00" in message else message


def append_events(
    conn: Connection, group: str, stream: str, events: Sequence[tuple[int, str]], now_ms: int
) -> int:
    """Append (timestamp ms, message) events, in timestamp order, to a stream (the group and stream
    are created on first use) and count the upload; returns the stream's upload count."""
    new_group(conn, group, now_ms)
    new_stream(conn, group, stream, now_ms)
    if events:
        conn.execute(
            insert(log_events),
            [
                {
                    "log_group_name": group,
                    "log_stream_name": stream,
                    "timestamp": timestamp,
                    "ingestion_time": now_ms,
                    "message": storable(message),
                }
                for timestamp, message in events
            ],
        )
    parameters: dict[str, Any] = {"stream_group": group, "stream_name": stream}
    if events:
        parameters |= {
            "added_bytes": sum(len(m.encode("utf-8")) for _, m in events),
            "ingested_at": now_ms,
            "first_event": events[0][0],
            "last_event": events[-1][0],
        }
    counted = conn.execute(_count_upload(conn.dialect.name, bool(events)), parameters).scalar_one()
    return int(counted)


@functools.cache
def _count_upload(dialect_name: str, with_events: bool) -> Any:
    """The stream's counters after an upload (with or without events), returning its upload count;
    built once per dialect."""
    values: dict[str, Any] = {"upload_count": log_streams.c.upload_count + 1}
    if with_events:
        first, last = bindparam("first_event", type_=BigInteger), bindparam("last_event", type_=BigInteger)
        on_sqlite = dialect_name == "sqlite"
        values |= {
            "stored_bytes": log_streams.c.stored_bytes + bindparam("added_bytes", type_=BigInteger),
            "last_ingestion_time": bindparam("ingested_at", type_=BigInteger),
            "first_event_timestamp": func.coalesce(
                func.min(log_streams.c.first_event_timestamp, first)
                if on_sqlite
                else func.least(log_streams.c.first_event_timestamp, first),
                first,
            ),
            "last_event_timestamp": func.coalesce(
                func.max(log_streams.c.last_event_timestamp, last)
                if on_sqlite
                else func.greatest(log_streams.c.last_event_timestamp, last),
                last,
            ),
        }
    key = and_(
        log_streams.c.log_group_name == bindparam("stream_group"),
        log_streams.c.log_stream_name == bindparam("stream_name"),
    )
    return update(log_streams).where(key).values(**values).returning(log_streams.c.upload_count)


# The columns `new_group` and `new_stream` give (the rest keep their defaults).
_INSERTED = {
    log_groups.name: (log_groups.c.log_group_name, log_groups.c.creation_time),
    log_streams.name: (
        log_streams.c.log_group_name,
        log_streams.c.log_stream_name,
        log_streams.c.creation_time,
        log_streams.c.stored_bytes,
        log_streams.c.upload_count,
    ),
}
