"""Tasks keyed by (step_id, task_index), with no other index; steps gain `ready_from`.

Task ids are derived from step and index, so lookups by id become primary-key lookups, and the
scheduler finds a step's next READY tasks by scanning its key range from `steps.ready_from`.
Writing a million-task job then maintains one append-ordered index instead of four (the id index
took most of the time: its keys sort as 1, 10, 100, ... and land all over the tree).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from farmhand.server.store._types import Epoch, Json

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _tasks_keyed_by(*key: str) -> sa.Table:
    """The tasks table as it stands after this revision (`key` = its primary key), for SQLite's copy."""
    return sa.Table(
        "tasks",
        sa.MetaData(),
        sa.Column("task_id", sa.String(length=80), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("farm_id", sa.String(length=64), nullable=False),
        sa.Column("task_index", sa.Integer(), nullable=False),
        sa.Column("run_status", sa.String(length=32), nullable=False),
        sa.Column("target_run_status", sa.String(length=32), nullable=True),
        sa.Column("failure_retry_count", sa.Integer(), nullable=False),
        sa.Column("parameters", Json, nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("updated_at", Epoch, nullable=True),
        sa.Column("updated_by", sa.String(length=256), nullable=True),
        sa.Column("started_at", Epoch, nullable=True),
        sa.Column("ended_at", Epoch, nullable=True),
        sa.Column("latest_session_action_id", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint(*key, name="pk_tasks"),
    )


def upgrade() -> None:
    op.add_column("steps", sa.Column("ready_from", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index("ix_tasks_job_status", table_name="tasks")
    op.drop_index("ix_tasks_step", table_name="tasks")
    op.drop_index("ix_tasks_step_status", table_name="tasks")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: copy into a table with the new key.
        with op.batch_alter_table(
            "tasks", copy_from=_tasks_keyed_by("step_id", "task_index"), recreate="always"
        ):
            pass
        return
    op.drop_constraint("tasks_pkey", "tasks", type_="primary")
    op.create_primary_key("tasks_pkey", "tasks", ["step_id", "task_index"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("tasks", copy_from=_tasks_keyed_by("task_id"), recreate="always"):
            pass
    else:
        op.drop_constraint("tasks_pkey", "tasks", type_="primary")
        op.create_primary_key("tasks_pkey", "tasks", ["task_id"])
    op.create_index("ix_tasks_step_status", "tasks", ["step_id", "run_status", "task_index"], unique=False)
    op.create_index("ix_tasks_step", "tasks", ["step_id", "task_index"], unique=False)
    op.create_index("ix_tasks_job_status", "tasks", ["job_id", "run_status"], unique=False)
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("ready_from")
