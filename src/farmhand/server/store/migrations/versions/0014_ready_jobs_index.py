"""An index of the jobs that have READY tasks, by queue: a worker's poll looks for those, and without
it reads every job its queues ever had.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_READY = sa.text("count_ready > 0")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_ready",
        "jobs",
        ["queue_id", "priority"],
        sqlite_where=_READY,
        postgresql_where=_READY,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_ready", table_name="jobs")
