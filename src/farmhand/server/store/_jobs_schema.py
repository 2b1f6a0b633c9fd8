"""Jobs, steps, step dependencies and tasks.

Jobs and steps carry one counter column per task run status, updated in the same transaction as
the task changes, so reads never scan tasks (`taskRunStatusCounts` comes straight from the row).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, text

from ...statuses import TaskRunStatus
from ._schema import metadata
from ._types import Epoch, Json

#: One counter column per status, in the model's order.
TASK_RUN_STATUSES = tuple(TaskRunStatus)


def count_column(status: str) -> str:
    """The counter column of a task run status: `READY` → `count_ready`."""
    return f"count_{status.lower()}"


def _counter_columns() -> list[Column[int]]:
    return [Column(count_column(s), Integer, nullable=False, default=0) for s in TASK_RUN_STATUSES]


jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("farm_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    Column("name", String(512), nullable=False),
    Column("description", Text, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("lifecycle_status", String(32), nullable=False),
    Column("lifecycle_status_message", Text, nullable=False),
    Column("task_run_status", String(32), nullable=False),
    Column("target_task_run_status", String(32), nullable=True),
    Column("max_failed_tasks_count", Integer, nullable=True),
    Column("max_retries_per_task", Integer, nullable=True),
    Column("max_worker_count", Integer, nullable=True),
    Column("task_failure_retry_count", Integer, nullable=False, default=0),
    Column("storage_profile_id", String(64), nullable=True),
    Column("source_job_id", String(64), nullable=True),
    Column("template", Text, nullable=False),
    Column("template_type", String(8), nullable=False),
    Column("extensions", Json, nullable=True),
    Column("parameters", Json, nullable=True),  # as submitted, in the union form
    Column("resolved_parameters", Json, nullable=True),  # defaults + queue-environment parameters
    Column("environments", Json, nullable=True),  # queue + job environments, in entry order
    Column("resolved_symbol_table", Text, nullable=True),  # EXPR: openjd's serialized job symbol table
    Column("attachments", Json, nullable=True),
    Column("created_at", Epoch, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_by_id", String(256), nullable=True),  # the creator's principal id (principalId filters)
    Column("updated_at", Epoch, nullable=True),
    Column("updated_by", String(256), nullable=True),
    Column("started_at", Epoch, nullable=True),
    Column("ended_at", Epoch, nullable=True),
    *_counter_columns(),
    Index("ix_jobs_queue", "queue_id", "created_at", "job_id"),
    Index("ix_jobs_farm_status", "farm_id", "task_run_status"),
    # The jobs a worker's poll may take work from (worker_plane._assign.READY_JOB): only those.
    Index(
        "ix_jobs_ready",
        "queue_id",
        "priority",
        sqlite_where=text("count_ready > 0"),
        postgresql_where=text("count_ready > 0"),
    ),
)

steps = Table(
    "steps",
    metadata,
    Column("step_id", String(64), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    Column("farm_id", String(64), nullable=False),
    Column("step_index", Integer, nullable=False),  # template order
    Column("name", String(512), nullable=False),
    Column("description", Text, nullable=True),
    Column("lifecycle_status", String(32), nullable=False),
    Column("lifecycle_status_message", Text, nullable=True),
    Column("task_run_status", String(32), nullable=False),
    Column("target_task_run_status", String(32), nullable=True),
    Column("task_failure_retry_count", Integer, nullable=False, default=0),
    Column("task_count", Integer, nullable=False, default=0),
    # No READY task of this step has a lower index: claim_tasks scans from here, _move lowers it.
    Column("ready_from", Integer, nullable=False, default=0, server_default="0"),
    Column("template", Json, nullable=False),  # the step object of the template (stepDetails.template)
    Column("parameter_space", Json, nullable=True),  # GetStep.parameterSpace
    Column("required_capabilities", Json, nullable=True),  # GetStep.requiredCapabilities
    Column("resolved_symbol_table", Text, nullable=True),  # EXPR: stepDetails.resolvedSymbolTable
    Column("created_at", Epoch, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", Epoch, nullable=True),
    Column("updated_by", String(256), nullable=True),
    Column("started_at", Epoch, nullable=True),
    Column("ended_at", Epoch, nullable=True),
    *_counter_columns(),
    Index("ix_steps_job", "job_id", "step_index"),
)

step_dependencies = Table(
    "step_dependencies",
    metadata,
    Column("job_id", String(64), nullable=False),
    Column("step_id", String(64), primary_key=True),  # the consumer
    Column("depends_on_step_id", String(64), primary_key=True),  # the upstream step
    Index("ix_step_dependencies_upstream", "depends_on_step_id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(80), nullable=False),  # derived from (step_id, task_index); see _task_keys
    Column("step_id", String(64), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    Column("farm_id", String(64), nullable=False),
    Column("task_index", Integer, primary_key=True, autoincrement=False),
    Column("run_status", String(32), nullable=False),
    Column("target_run_status", String(32), nullable=True),
    Column("failure_retry_count", Integer, nullable=False, default=0),
    Column("parameters", Json, nullable=True),  # {name: {int|float|string|path|chunkInt: "..."}}
    Column("created_at", Epoch, nullable=False),
    Column("updated_at", Epoch, nullable=True),
    Column("updated_by", String(256), nullable=True),
    Column("started_at", Epoch, nullable=True),
    Column("ended_at", Epoch, nullable=True),
    Column("latest_session_action_id", String(80), nullable=True),
)
