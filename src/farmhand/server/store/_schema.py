"""Tables of the farm's foundation: settings, principals and keys, idempotency, management resources.

Management resources (farms, queues, fleets, associations, queue environments, storage profiles)
are kept as documents shaped like their Get* output, with the columns lists filter and sort on.
Jobs, tasks, sessions, workers and logs have tables of their own (see the sibling modules).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from ._types import Epoch, Json

metadata = MetaData()

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("principal_id", String(64), primary_key=True),
    Column("arn", String(256), nullable=False),
    Column("kind", String(32), nullable=False),  # user | queue-role | fleet-role
    Column("display_name", String(256), nullable=False),
    Column("created_at", Epoch, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("secret_access_key", String(128), nullable=False),
    Column("principal_id", String(64), nullable=False, index=True),
    Column("session_token", Text, nullable=True),
    Column("expires_at", Epoch, nullable=True, index=True),
    Column("scope", Json, nullable=True),  # e.g. {"farmId":..., "queueId":...} for role credentials
    Column("created_at", Epoch, nullable=False),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("principal_id", String(64), primary_key=True),
    Column("operation", String(64), primary_key=True),
    Column("client_token", String(64), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Json, nullable=False),
    Column("created_at", Epoch, nullable=False, index=True),
)

resources = Table(
    "resources",
    metadata,
    Column("kind", String(32), nullable=False),
    Column("resource_id", String(128), primary_key=True),
    Column("farm_id", String(64), nullable=True),
    Column("parent_id", String(64), nullable=True),  # queue of a queue environment or association
    Column("ref_id", String(64), nullable=True),  # fleet of an association
    Column("display_name", String(256), nullable=True),
    Column("status", String(64), nullable=True),
    Column("created_at", Epoch, nullable=False),  # with resource_id, the stable sort key of lists
    Column("doc", Json, nullable=False),
    Column("created_by_id", String(256), nullable=True),  # the creator's principal id (principalId filters)
    Index("ix_resources_scope", "kind", "farm_id", "parent_id", "created_at"),
)

tags = Table(
    "tags",
    metadata,
    Column("resource_arn", String(512), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

telemetry_events = Table(
    "telemetry_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Epoch, nullable=False, index=True),
    Column("body", Json, nullable=False),
    Column("size_bytes", Integer, nullable=False, server_default="0"),  # counted against the total cap
)
