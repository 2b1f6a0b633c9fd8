"""Partial indexes of the session actions a schedule call reads: the open ones of a session (its
pipeline keeps every action it ran, thousands for a worker that stays on one step) and the failed
ones (the per-worker failure cap counts them).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('SCHEDULED', 'ASSIGNED', 'RUNNING', 'CANCELING')")
_FAILED = sa.text("status = 'FAILED'")


def upgrade() -> None:
    op.create_index(
        "ix_session_actions_open",
        "session_actions",
        ["session_id", "action_index"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index(
        "ix_session_actions_failed",
        "session_actions",
        ["session_id"],
        sqlite_where=_FAILED,
        postgresql_where=_FAILED,
    )


def downgrade() -> None:
    op.drop_index("ix_session_actions_failed", table_name="session_actions")
    op.drop_index("ix_session_actions_open", table_name="session_actions")
