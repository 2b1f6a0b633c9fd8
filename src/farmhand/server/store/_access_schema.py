"""Memberships: who (a user or a group) holds which level on a farm, queue, fleet or job."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from ._schema import metadata
from ._types import Epoch

memberships = Table(
    "memberships",
    metadata,
    Column("resource_kind", String(16), primary_key=True),  # farm | queue | fleet | job
    Column("resource_id", String(64), primary_key=True),
    Column("principal_id", String(64), primary_key=True),
    Column("farm_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=True),  # the queue of a job membership
    Column("principal_type", String(16), nullable=False),  # USER | GROUP
    Column("identity_store_id", String(64), nullable=False),
    Column("membership_level", String(16), nullable=False),  # VIEWER | CONTRIBUTOR | MANAGER | OWNER
    Column("created_at", Epoch, nullable=False),
    # A caller's memberships in one farm are read in one range scan on every call it makes there.
    Index("ix_memberships_principal_farm", "principal_id", "farm_id"),
)
