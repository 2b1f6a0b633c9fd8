"""Workers, sessions and session actions: the worker plane."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, literal_column, text

from ._schema import metadata
from ._types import Epoch, Json

workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("farm_id", String(64), nullable=False),
    Column("fleet_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("host_properties", Json, nullable=True),
    Column("capabilities", Json, nullable=True),
    Column("created_at", Epoch, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", Epoch, nullable=True),
    Column("updated_by", String(256), nullable=True),
    Column("last_seen_at", Epoch, nullable=True),  # the last UpdateWorkerSchedule: the heartbeat
    Index("ix_workers_fleet", "fleet_id", "status"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("farm_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("fleet_id", String(64), nullable=False),
    Column("worker_id", String(64), nullable=False),
    Column("lifecycle_status", String(32), nullable=False),
    Column("target_lifecycle_status", String(32), nullable=True),
    Column("step_id", String(64), nullable=True),  # the step whose environments are entered now
    Column("entered_environments", Json, nullable=True),  # environment ids, in entry order
    Column("next_action_index", Integer, nullable=False, default=0),
    Column("host_properties", Json, nullable=True),
    Column("started_at", Epoch, nullable=False),
    Column("ended_at", Epoch, nullable=True),
    Column("updated_at", Epoch, nullable=True),
    Column("updated_by", String(256), nullable=True),
    Index("ix_sessions_job", "job_id", "started_at"),
    Index("ix_sessions_worker", "worker_id", "lifecycle_status"),
)

#: Actions queued or running in their session. A session's pipeline keeps every action it ever ran
#: (a worker on one step runs thousands), so each schedule call reads its open ones through a partial
#: index of those only (`ix_session_actions_open`).
OPEN_ACTION_STATUSES = ("SCHEDULED", "ASSIGNED", "RUNNING", "CANCELING")
_OPEN_LIST = ", ".join(f"'{status}'" for status in OPEN_ACTION_STATUSES)

session_actions = Table(
    "session_actions",
    metadata,
    Column("session_action_id", String(80), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("action_index", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("definition", Json, nullable=False),  # the SessionActionDefinition union
    Column("step_id", String(64), nullable=True),
    Column("task_id", String(80), nullable=True),
    Column("started_at", Epoch, nullable=True),
    Column("ended_at", Epoch, nullable=True),
    Column("worker_updated_at", Epoch, nullable=True),
    Column("progress_percent", Integer, nullable=True),
    Column("progress_message", Text, nullable=True),
    Column("process_exit_code", Integer, nullable=True),
    Column("manifests", Json, nullable=True),
    Column("created_at", Epoch, nullable=False),
    Column("ready_at", Epoch, nullable=True),  # a task run's: when its task became READY (dispatch latency)
    Index("ix_session_actions_session", "session_id", "action_index"),
    Index("ix_session_actions_job_task", "job_id", "task_id"),
    Index(
        "ix_session_actions_open",
        "session_id",
        "action_index",
        sqlite_where=text(f"status IN ({_OPEN_LIST})"),
        postgresql_where=text(f"status IN ({_OPEN_LIST})"),
    ),
    # Failed actions (few): the per-worker failure cap counts them at every schedule call with work.
    Index(
        "ix_session_actions_failed",
        "session_id",
        sqlite_where=text("status = 'FAILED'"),
        postgresql_where=text("status = 'FAILED'"),
    ),
)

# The partial indexes' conditions, as queries must write them for SQLite to see that an index applies:
# the same literal values (a bound parameter would hide it, and every action of the session be read).
ACTION_IS_OPEN = session_actions.c.status.in_(
    [literal_column(f"'{status}'") for status in OPEN_ACTION_STATUSES]
)
ACTION_FAILED = session_actions.c.status == literal_column("'FAILED'")
