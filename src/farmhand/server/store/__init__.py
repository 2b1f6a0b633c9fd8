"""The farm's durable store: SQLAlchemy Core tables, Alembic migrations, transactions."""

from ._access_schema import memberships
from ._engine import (
    SQLITE_FILE_NAME,
    Changes,
    PoolSettings,
    Store,
    StoreUnavailableError,
    advisory_key,
    sqlite_url,
)
from ._identity_schema import (
    device_authorizations,
    group_members,
    refresh_tokens,
    sign_in_failures,
    sign_in_keys,
    user_groups,
    users,
)
from ._jobs_schema import TASK_RUN_STATUSES, count_column, jobs, step_dependencies, steps, tasks
from ._logs_schema import log_events, log_groups, log_streams
from ._resource_documents import (
    count_documents,
    delete_document,
    find_document,
    insert_document,
    save_document,
)
from ._schema import (
    access_keys,
    idempotency_records,
    metadata,
    principals,
    resources,
    settings,
    tags,
    telemetry_events,
)
from ._task_keys import task_is, tasks_in, tasks_of_job
from ._types import Epoch, Json, utcnow
from ._workers_schema import (
    ACTION_FAILED,
    ACTION_IS_OPEN,
    OPEN_ACTION_STATUSES,
    session_actions,
    sessions,
    workers,
)

__all__ = [
    "ACTION_FAILED",
    "ACTION_IS_OPEN",
    "OPEN_ACTION_STATUSES",
    "SQLITE_FILE_NAME",
    "TASK_RUN_STATUSES",
    "Changes",
    "Epoch",
    "Json",
    "PoolSettings",
    "Store",
    "StoreUnavailableError",
    "access_keys",
    "advisory_key",
    "count_column",
    "count_documents",
    "delete_document",
    "device_authorizations",
    "find_document",
    "group_members",
    "idempotency_records",
    "insert_document",
    "jobs",
    "log_events",
    "log_groups",
    "log_streams",
    "memberships",
    "metadata",
    "principals",
    "refresh_tokens",
    "resources",
    "save_document",
    "session_actions",
    "sessions",
    "settings",
    "sign_in_failures",
    "sign_in_keys",
    "sqlite_url",
    "step_dependencies",
    "steps",
    "tags",
    "task_is",
    "tasks",
    "tasks_in",
    "tasks_of_job",
    "telemetry_events",
    "user_groups",
    "users",
    "utcnow",
    "workers",
]
