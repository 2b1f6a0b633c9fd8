"""Pure scheduling decisions: which work a worker gets, and the shape of its session.

No I/O here: the worker plane reads the store into these dataclasses, asks, and applies the answers.
"""

from ._capabilities import (
    FleetCapabilities,
    Requirements,
    WorkerCapabilities,
    fleet_can_satisfy,
    fleet_capabilities_from_api,
    requirements_from_api,
    worker_capabilities_from_api,
    worker_satisfies,
)
from ._choice import (
    DEFAULT_FAILURE_CAP,
    MAX_TASK_BATCH,
    Choice,
    JobOption,
    StepOption,
    WorkerState,
    at_failure_cap,
    choose_work,
    job_order,
    task_batch,
)
from ._sessions import (
    Definition,
    StepPlan,
    closing_actions,
    env_enter,
    env_exit,
    kind_of,
    opening_actions,
    step_actions,
    task_run,
)
from ._timing import (
    BUSY_INTERVAL_SECONDS,
    DEFAULT_IDLE_INTERVAL_SECONDS,
    update_interval,
    worker_timeout,
)

__all__ = [
    "BUSY_INTERVAL_SECONDS",
    "DEFAULT_FAILURE_CAP",
    "DEFAULT_IDLE_INTERVAL_SECONDS",
    "MAX_TASK_BATCH",
    "Choice",
    "Definition",
    "FleetCapabilities",
    "JobOption",
    "Requirements",
    "StepOption",
    "StepPlan",
    "WorkerCapabilities",
    "WorkerState",
    "at_failure_cap",
    "choose_work",
    "closing_actions",
    "env_enter",
    "env_exit",
    "fleet_can_satisfy",
    "fleet_capabilities_from_api",
    "job_order",
    "kind_of",
    "opening_actions",
    "requirements_from_api",
    "step_actions",
    "task_batch",
    "task_run",
    "update_interval",
    "worker_capabilities_from_api",
    "worker_satisfies",
    "worker_timeout",
]
