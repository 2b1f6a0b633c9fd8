"""The farmhand worker agent: runs a farm's sessions on this host with openjd-sessions.

It speaks the Deadline Cloud worker protocol (CreateWorker, AssumeFleetRoleForWorker, UpdateWorker,
UpdateWorkerSchedule, BatchGetJobEntity) and ships logs with CloudWatch Logs PutLogEvents, so it
works against a farmhand farm and follows the same protocol as the AWS worker agent.
"""

from ._agent import WorkerAgent
from ._command import worker_command
from ._config import WorkerConfig
from ._host import capabilities as host_capabilities
from ._log_shipper import LogShipper

__all__ = ["LogShipper", "WorkerAgent", "WorkerConfig", "host_capabilities", "worker_command"]
