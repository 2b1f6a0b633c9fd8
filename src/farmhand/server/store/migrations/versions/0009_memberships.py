"""Memberships of users and groups on farms, queues, fleets and jobs.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from farmhand.server.store._types import Epoch

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("resource_kind", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("farm_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=True),
        sa.Column("principal_type", sa.String(length=16), nullable=False),
        sa.Column("identity_store_id", sa.String(length=64), nullable=False),
        sa.Column("membership_level", sa.String(length=16), nullable=False),
        sa.Column("created_at", Epoch(), nullable=False),
        sa.PrimaryKeyConstraint("resource_kind", "resource_id", "principal_id"),
    )
    op.create_index("ix_memberships_principal_farm", "memberships", ["principal_id", "farm_id"])


def downgrade() -> None:
    op.drop_index("ix_memberships_principal_farm", table_name="memberships")
    op.drop_table("memberships")
