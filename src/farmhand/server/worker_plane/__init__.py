"""The worker plane in the store: worker status, action updates, session assignment, reclaim."""

from ...statuses import ONLINE_WORKER_STATUSES
from ._entities import get_job_entities, queue_role_arn
from ._explain import explain_job
from ._idle_polls import WORK_ONLY_OPERATIONS, IdlePolls
from ._logs import session_log, worker_log
from ._reclaim import CompatibilityChecker, reclaim_silent_workers, start_worker_plane
from ._reclaim import timeout_of as worker_timeout_seconds
from ._schedule import (
    ScheduleResult,
    ScheduleSettings,
    carry_interruptions,
    require_worker,
    status_conflict,
    update_worker_schedule,
)
from ._sessions import abandon_sessions
from ._signal import WAIT_HEADER, WorkSignal, held_for, requested_wait, work_signal
from ._workers import change_worker_status

__all__ = [
    "ONLINE_WORKER_STATUSES",
    "WAIT_HEADER",
    "WORK_ONLY_OPERATIONS",
    "CompatibilityChecker",
    "IdlePolls",
    "ScheduleResult",
    "ScheduleSettings",
    "WorkSignal",
    "abandon_sessions",
    "carry_interruptions",
    "change_worker_status",
    "explain_job",
    "get_job_entities",
    "held_for",
    "queue_role_arn",
    "reclaim_silent_workers",
    "requested_wait",
    "require_worker",
    "session_log",
    "start_worker_plane",
    "status_conflict",
    "update_worker_schedule",
    "work_signal",
    "worker_log",
    "worker_timeout_seconds",
]
