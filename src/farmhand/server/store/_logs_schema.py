"""CloudWatch Logs subset: log groups, log streams and their events (session and worker logs)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from ._schema import metadata

# 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the 64-bit rowid already.
EventId = BigInteger().with_variant(Integer(), "sqlite")

log_groups = Table(
    "log_groups",
    metadata,
    Column("log_group_name", String(512), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),  # epoch milliseconds, as the Logs API speaks
    Column("retention_in_days", Integer, nullable=True),  # PutRetentionPolicy; None keeps events forever
)

log_streams = Table(
    "log_streams",
    metadata,
    Column("log_group_name", String(512), primary_key=True),
    Column("log_stream_name", String(512), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("first_event_timestamp", BigInteger, nullable=True),
    Column("last_event_timestamp", BigInteger, nullable=True),
    Column("last_ingestion_time", BigInteger, nullable=True),
    Column("stored_bytes", BigInteger, nullable=False, default=0),
    Column("upload_count", Integer, nullable=False, default=0),  # PutLogEvents calls: the sequence token
)

log_events = Table(
    "log_events",
    metadata,
    Column("event_id", EventId, primary_key=True, autoincrement=True),
    Column("log_group_name", String(512), nullable=False),
    Column("log_stream_name", String(512), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("ingestion_time", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_log_events_stream_time", "log_group_name", "log_stream_name", "timestamp", "event_id"),
    Index("ix_log_events_group_time", "log_group_name", "timestamp", "event_id"),
)
