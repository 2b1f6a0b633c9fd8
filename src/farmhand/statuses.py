"""The statuses of the Deadline Cloud model, once, for the client and the server alike.

Each enum has exactly the values of the botocore model's enum of the same name (a test checks them
against the installed model). StrEnum members compare equal to their strings, so they go into JSON,
SQL and boto3 calls unchanged. The groups below are the ones both sides reason with; each is
defined here and nowhere else (tuples, in the model's order, so SQL built from them is stable).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE_TASK_RUN_STATUSES",
    "BLOCKING_TASK_RUN_STATUSES",
    "FINISHED_SESSION_ACTION_STATUSES",
    "HELD_TASK_RUN_STATUSES",
    "ONLINE_WORKER_STATUSES",
    "TERMINAL_TASK_RUN_STATUSES",
    "WORKER_HELD_TASK_RUN_STATUSES",
    "JobLifecycleStatus",
    "QueueFleetAssociationStatus",
    "SessionActionStatus",
    "SessionLifecycleStatus",
    "TaskRunStatus",
    "WorkerStatus",
]


class TaskRunStatus(StrEnum):
    """A task's `runStatus`, and a step's or job's `taskRunStatus` (their tasks rolled up)."""

    PENDING = "PENDING"
    READY = "READY"
    ASSIGNED = "ASSIGNED"
    STARTING = "STARTING"
    SCHEDULED = "SCHEDULED"
    INTERRUPTING = "INTERRUPTING"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    NOT_COMPATIBLE = "NOT_COMPATIBLE"


class JobLifecycleStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    UPLOAD_IN_PROGRESS = "UPLOAD_IN_PROGRESS"
    UPLOAD_FAILED = "UPLOAD_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_SUCCEEDED = "UPDATE_SUCCEEDED"
    ARCHIVED = "ARCHIVED"


class WorkerStatus(StrEnum):
    CREATED = "CREATED"
    STARTED = "STARTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    NOT_RESPONDING = "NOT_RESPONDING"
    NOT_COMPATIBLE = "NOT_COMPATIBLE"
    RUNNING = "RUNNING"
    IDLE = "IDLE"


class SessionActionStatus(StrEnum):
    ASSIGNED = "ASSIGNED"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    CANCELED = "CANCELED"
    NEVER_ATTEMPTED = "NEVER_ATTEMPTED"
    SCHEDULED = "SCHEDULED"
    RECLAIMING = "RECLAIMING"
    RECLAIMED = "RECLAIMED"


class SessionLifecycleStatus(StrEnum):
    STARTED = "STARTED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_SUCCEEDED = "UPDATE_SUCCEEDED"
    UPDATE_FAILED = "UPDATE_FAILED"
    ENDED = "ENDED"


class QueueFleetAssociationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    STOP_SCHEDULING_AND_COMPLETE_TASKS = "STOP_SCHEDULING_AND_COMPLETE_TASKS"
    STOP_SCHEDULING_AND_CANCEL_TASKS = "STOP_SCHEDULING_AND_CANCEL_TASKS"
    STOPPED = "STOPPED"


_T = TaskRunStatus

#: Finished, for waiting purposes (`deadline job wait`, the JobComplete waiter): nothing more happens
#: to the work unless someone asks for it.
TERMINAL_TASK_RUN_STATUSES = (_T.SUSPENDED, _T.CANCELED, _T.FAILED, _T.SUCCEEDED, _T.NOT_COMPATIBLE)
#: An upstream step ending in one of these blocks its consumers: their PENDING tasks never run.
#: In precedence order: a roll-up of tasks is the first of these any task has (else SUCCEEDED).
BLOCKING_TASK_RUN_STATUSES = (_T.FAILED, _T.CANCELED, _T.SUSPENDED, _T.NOT_COMPATIBLE)
#: Handed to a worker and not finished: user updates interrupt these instead of moving them.
WORKER_HELD_TASK_RUN_STATUSES = (_T.ASSIGNED, _T.STARTING, _T.SCHEDULED, _T.RUNNING)
#: Held by a worker, including while being interrupted (the worker still reports on it).
HELD_TASK_RUN_STATUSES = (*WORKER_HELD_TASK_RUN_STATUSES, _T.INTERRUPTING)
#: Work going on or waiting for a worker, most advanced first (the roll-up order).
ACTIVE_TASK_RUN_STATUSES = (_T.RUNNING, _T.INTERRUPTING, _T.STARTING, _T.SCHEDULED, _T.ASSIGNED, _T.READY)
#: Worker statuses in which a worker takes work.
ONLINE_WORKER_STATUSES = (WorkerStatus.STARTED, WorkerStatus.IDLE, WorkerStatus.RUNNING)
_A = SessionActionStatus
#: Session actions that have ended (the worker will not run or report them again).
FINISHED_SESSION_ACTION_STATUSES = (
    _A.SUCCEEDED,
    _A.FAILED,
    _A.INTERRUPTED,
    _A.CANCELED,
    _A.NEVER_ATTEMPTED,
    _A.RECLAIMED,
)
