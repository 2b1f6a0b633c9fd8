"""Foundation: settings, principals, access keys, idempotency, management resources, tags, telemetry.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from farmhand.server.store._types import Epoch, Json

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "principals",
        sa.Column("principal_id", sa.String(64), primary_key=True),
        sa.Column("arn", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(128), primary_key=True),
        sa.Column("secret_access_key", sa.String(128), nullable=False),
        sa.Column("principal_id", sa.String(64), nullable=False, index=True),
        sa.Column("session_token", sa.Text, nullable=True),
        sa.Column("expires_at", Epoch, nullable=True, index=True),
        sa.Column("scope", Json, nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("principal_id", sa.String(64), primary_key=True),
        sa.Column("operation", sa.String(64), primary_key=True),
        sa.Column("client_token", sa.String(64), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", Json, nullable=False),
        sa.Column("created_at", Epoch, nullable=False, index=True),
    )
    op.create_table(
        "resources",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(128), primary_key=True),
        sa.Column("farm_id", sa.String(64), nullable=True),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("ref_id", sa.String(64), nullable=True),
        sa.Column("display_name", sa.String(256), nullable=True),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("doc", Json, nullable=False),
        sa.Column("created_by_id", sa.String(256), nullable=True),
    )
    op.create_index("ix_resources_scope", "resources", ["kind", "farm_id", "parent_id", "created_at"])
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(512), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
    op.create_table(
        "telemetry_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", Epoch, nullable=False),
        sa.Column("body", Json, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "telemetry_events",
        "tags",
        "resources",
        "idempotency_records",
        "access_keys",
        "principals",
        "settings",
    ):
        op.drop_table(table)
