"""CloudWatch Logs subset: log groups, log streams, log events.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_groups",
        sa.Column("log_group_name", sa.String(length=512), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("log_group_name"),
    )
    op.create_table(
        "log_streams",
        sa.Column("log_group_name", sa.String(length=512), nullable=False),
        sa.Column("log_stream_name", sa.String(length=512), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("first_event_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("last_event_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("last_ingestion_time", sa.BigInteger(), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("upload_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("log_group_name", "log_stream_name"),
    )
    op.create_table(
        "log_events",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("log_group_name", sa.String(length=512), nullable=False),
        sa.Column("log_stream_name", sa.String(length=512), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("ingestion_time", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_log_events_stream_time",
        "log_events",
        ["log_group_name", "log_stream_name", "timestamp", "event_id"],
        unique=False,
    )
    op.create_index(
        "ix_log_events_group_time", "log_events", ["log_group_name", "timestamp", "event_id"], unique=False
    )


def downgrade() -> None:
    for table in ("log_events", "log_streams", "log_groups"):
        op.drop_table(table)
