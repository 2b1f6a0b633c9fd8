"""Telemetry retention: each event's size, and an index to drop old events by age.

Revision ID: 0005
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telemetry_events") as batch:
        batch.add_column(sa.Column("size_bytes", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_telemetry_events_received_at", "telemetry_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_telemetry_events_received_at", table_name="telemetry_events")
    with op.batch_alter_table("telemetry_events") as batch:
        batch.drop_column("size_bytes")
