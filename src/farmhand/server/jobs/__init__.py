"""The job model below the handlers: template instantiation, task transitions and roll-ups, search."""

from ._transitions import (
    RUNNING_STATES,
    TERMINAL_STATUSES,
    USER_TARGETS,
    record_task_failure,
    refresh_job,
    request_tasks_status,
    rollup,
    set_task_status,
)

__all__ = [
    "RUNNING_STATES",
    "TERMINAL_STATUSES",
    "USER_TARGETS",
    "record_task_failure",
    "refresh_job",
    "request_tasks_status",
    "rollup",
    "set_task_status",
]
