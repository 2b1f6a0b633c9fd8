"""Jobs, steps, step dependencies, tasks, workers, sessions and session actions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from farmhand.server.store._types import Epoch, Json

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("farm_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("lifecycle_status", sa.String(length=32), nullable=False),
        sa.Column("lifecycle_status_message", sa.Text, nullable=False),
        sa.Column("task_run_status", sa.String(length=32), nullable=False),
        sa.Column("target_task_run_status", sa.String(length=32), nullable=True),
        sa.Column("max_failed_tasks_count", sa.Integer(), nullable=True),
        sa.Column("max_retries_per_task", sa.Integer(), nullable=True),
        sa.Column("max_worker_count", sa.Integer(), nullable=True),
        sa.Column("task_failure_retry_count", sa.Integer(), nullable=False),
        sa.Column("storage_profile_id", sa.String(length=64), nullable=True),
        sa.Column("source_job_id", sa.String(length=64), nullable=True),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("template_type", sa.String(length=8), nullable=False),
        sa.Column("extensions", Json, nullable=True),
        sa.Column("parameters", Json, nullable=True),
        sa.Column("resolved_parameters", Json, nullable=True),
        sa.Column("environments", Json, nullable=True),
        sa.Column("resolved_symbol_table", sa.Text, nullable=True),
        sa.Column("attachments", Json, nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_by_id", sa.String(length=256), nullable=True),
        sa.Column("updated_at", Epoch, nullable=True),
        sa.Column("updated_by", sa.String(length=256), nullable=True),
        sa.Column("started_at", Epoch, nullable=True),
        sa.Column("ended_at", Epoch, nullable=True),
        sa.Column("count_pending", sa.Integer(), nullable=False),
        sa.Column("count_ready", sa.Integer(), nullable=False),
        sa.Column("count_assigned", sa.Integer(), nullable=False),
        sa.Column("count_starting", sa.Integer(), nullable=False),
        sa.Column("count_scheduled", sa.Integer(), nullable=False),
        sa.Column("count_interrupting", sa.Integer(), nullable=False),
        sa.Column("count_running", sa.Integer(), nullable=False),
        sa.Column("count_suspended", sa.Integer(), nullable=False),
        sa.Column("count_canceled", sa.Integer(), nullable=False),
        sa.Column("count_failed", sa.Integer(), nullable=False),
        sa.Column("count_succeeded", sa.Integer(), nullable=False),
        sa.Column("count_not_compatible", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_jobs_farm_status", "jobs", ["farm_id", "task_run_status"], unique=False)
    op.create_index("ix_jobs_queue", "jobs", ["queue_id", "created_at", "job_id"], unique=False)
    op.create_table(
        "session_actions",
        sa.Column("session_action_id", sa.String(length=80), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=80), nullable=True),
        sa.Column("started_at", Epoch, nullable=True),
        sa.Column("ended_at", Epoch, nullable=True),
        sa.Column("worker_updated_at", Epoch, nullable=True),
        sa.Column("progress_percent", sa.Integer(), nullable=True),
        sa.Column("progress_message", sa.Text, nullable=True),
        sa.Column("process_exit_code", sa.Integer(), nullable=True),
        sa.Column("manifests", Json, nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.PrimaryKeyConstraint("session_action_id"),
    )
    op.create_index("ix_session_actions_job_task", "session_actions", ["job_id", "task_id"], unique=False)
    op.create_index(
        "ix_session_actions_session", "session_actions", ["session_id", "action_index"], unique=False
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("farm_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("lifecycle_status", sa.String(length=32), nullable=False),
        sa.Column("target_lifecycle_status", sa.String(length=32), nullable=True),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("entered_environments", Json, nullable=True),
        sa.Column("next_action_index", sa.Integer(), nullable=False),
        sa.Column("host_properties", Json, nullable=True),
        sa.Column("started_at", Epoch, nullable=False),
        sa.Column("ended_at", Epoch, nullable=True),
        sa.Column("updated_at", Epoch, nullable=True),
        sa.Column("updated_by", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_sessions_job", "sessions", ["job_id", "started_at"], unique=False)
    op.create_index("ix_sessions_worker", "sessions", ["worker_id", "lifecycle_status"], unique=False)
    op.create_table(
        "step_dependencies",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("depends_on_step_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("step_id", "depends_on_step_id"),
    )
    op.create_index(
        "ix_step_dependencies_upstream", "step_dependencies", ["depends_on_step_id"], unique=False
    )
    op.create_table(
        "steps",
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("farm_id", sa.String(length=64), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("lifecycle_status", sa.String(length=32), nullable=False),
        sa.Column("lifecycle_status_message", sa.Text, nullable=True),
        sa.Column("task_run_status", sa.String(length=32), nullable=False),
        sa.Column("target_task_run_status", sa.String(length=32), nullable=True),
        sa.Column("task_failure_retry_count", sa.Integer(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("template", Json, nullable=False),
        sa.Column("parameter_space", Json, nullable=True),
        sa.Column("required_capabilities", Json, nullable=True),
        sa.Column("resolved_symbol_table", sa.Text, nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", Epoch, nullable=True),
        sa.Column("updated_by", sa.String(length=256), nullable=True),
        sa.Column("started_at", Epoch, nullable=True),
        sa.Column("ended_at", Epoch, nullable=True),
        sa.Column("count_pending", sa.Integer(), nullable=False),
        sa.Column("count_ready", sa.Integer(), nullable=False),
        sa.Column("count_assigned", sa.Integer(), nullable=False),
        sa.Column("count_starting", sa.Integer(), nullable=False),
        sa.Column("count_scheduled", sa.Integer(), nullable=False),
        sa.Column("count_interrupting", sa.Integer(), nullable=False),
        sa.Column("count_running", sa.Integer(), nullable=False),
        sa.Column("count_suspended", sa.Integer(), nullable=False),
        sa.Column("count_canceled", sa.Integer(), nullable=False),
        sa.Column("count_failed", sa.Integer(), nullable=False),
        sa.Column("count_succeeded", sa.Integer(), nullable=False),
        sa.Column("count_not_compatible", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("step_id"),
    )
    op.create_index("ix_steps_job", "steps", ["job_id", "step_index"], unique=False)
    op.create_table(
        "tasks",
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
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_tasks_job_status", "tasks", ["job_id", "run_status"], unique=False)
    op.create_index("ix_tasks_step", "tasks", ["step_id", "task_index"], unique=False)
    op.create_index("ix_tasks_step_status", "tasks", ["step_id", "run_status", "task_index"], unique=False)
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("farm_id", sa.String(length=64), nullable=False),
        sa.Column("fleet_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("host_properties", Json, nullable=True),
        sa.Column("capabilities", Json, nullable=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", Epoch, nullable=True),
        sa.Column("updated_by", sa.String(length=256), nullable=True),
        sa.Column("last_seen_at", Epoch, nullable=True),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    op.create_index("ix_workers_fleet", "workers", ["fleet_id", "status"], unique=False)


def downgrade() -> None:
    for table in ("session_actions", "sessions", "workers", "tasks", "step_dependencies", "steps", "jobs"):
        op.drop_table(table)
