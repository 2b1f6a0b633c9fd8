"""Registering the worker in its fleet and moving it through STARTED / STOPPING / STOPPED.

The worker id is kept in `worker.json` in the data dir, so a restarted agent is the same worker;
if the farm no longer knows that id, the agent registers afresh.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from .._private_files import write_private_text
from ._config import WorkerConfig
from ._retry import call_with_retry, error_code

log = logging.getLogger("farmhand.worker")


def load_worker_id(config: WorkerConfig) -> str | None:
    try:
        doc = json.loads(config.state_file.read_text())
    except (OSError, ValueError):
        return None
    if doc.get("farmId") != config.farm_id or doc.get("fleetId") != config.fleet_id:
        return None  # a data dir reused for another fleet: that worker id means nothing here
    worker_id = doc.get("workerId")
    return str(worker_id) if worker_id else None


def save_worker_id(config: WorkerConfig, worker_id: str) -> None:
    doc = {"farmId": config.farm_id, "fleetId": config.fleet_id, "workerId": worker_id}
    write_private_text(config.state_file, json.dumps(doc, indent=2))


def forget_worker_id(config: WorkerConfig) -> None:
    config.state_file.unlink(missing_ok=True)


def _fleet_busy(error: BaseException) -> bool:
    """The fleet is still being created: CreateWorker is retried, as the AWS agent does."""
    return (
        isinstance(error, ClientError)
        and error_code(error) == "ConflictException"
        and error.response.get("reason") == "STATUS_CONFLICT"
        and _context_status(error) == "CREATE_IN_PROGRESS"
    )


def create_worker(
    client: Any, config: WorkerConfig, host: dict[str, Any], stop: threading.Event | None = None
) -> str:
    answer = call_with_retry(
        "CreateWorker",
        lambda: client.create_worker(farmId=config.farm_id, fleetId=config.fleet_id, hostProperties=host),
        stop=stop,
        also_retry=_fleet_busy,
    )
    worker_id = str(answer["workerId"])
    save_worker_id(config, worker_id)
    log.info("registered as worker %s in fleet %s", worker_id, config.fleet_id)
    return worker_id


def _context_status(error: ClientError) -> str:
    context: Any = error.response.get("context") or {}
    return str(context.get("status", "")) if isinstance(context, dict) else ""


def _status_conflict(error: BaseException) -> str | None:
    """The worker status the farm named in a STATUS_CONFLICT, if that is what `error` is."""
    if (
        isinstance(error, ClientError)
        and error_code(error) == "ConflictException"
        and error.response.get("reason") == "STATUS_CONFLICT"
    ):
        return _context_status(error)
    return None


def _retry_update(error: BaseException) -> bool:
    if isinstance(error, ClientError) and error_code(error) == "ConflictException":
        return (
            error.response.get("reason") == "CONCURRENT_MODIFICATION"
            or _status_conflict(error) == "ASSOCIATED"
        )
    return False


def update_worker(
    client: Any,
    config: WorkerConfig,
    worker_id: str,
    status: str,
    *,
    capabilities: dict[str, Any] | None = None,
    host: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
    max_attempts: int | None = None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "farmId": config.farm_id,
        "fleetId": config.fleet_id,
        "workerId": worker_id,
        "status": status,
    }
    if capabilities is not None:
        kwargs["capabilities"] = capabilities
    if host is not None:
        kwargs["hostProperties"] = host
    answer: dict[str, Any] = call_with_retry(
        f"UpdateWorker({status})",
        lambda: client.update_worker(**kwargs),
        stop=stop,
        also_retry=_retry_update,
        max_attempts=max_attempts,
    )
    return answer


def start_worker(
    client: Any,
    config: WorkerConfig,
    worker_id: str,
    capabilities: dict[str, Any],
    host: dict[str, Any],
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """UpdateWorker(STARTED); from STOPPING or NOT_COMPATIBLE the worker passes through STOPPED first."""
    try:
        return update_worker(
            client, config, worker_id, "STARTED", capabilities=capabilities, host=host, stop=stop
        )
    except ClientError as error:
        if _status_conflict(error) not in ("STOPPING", "NOT_COMPATIBLE"):
            raise
    update_worker(client, config, worker_id, "STOPPED", stop=stop)
    return update_worker(
        client, config, worker_id, "STARTED", capabilities=capabilities, host=host, stop=stop
    )


def log_destination(log_configuration: dict[str, Any] | None) -> tuple[str, str]:
    """The awslogs group and stream of a LogConfiguration; anything else is refused, as by the AWS agent."""
    if not log_configuration or log_configuration.get("logDriver") != "awslogs":
        raise ValueError(f"only the awslogs log driver is supported, got {log_configuration!r}")
    if log_configuration.get("error"):
        raise ValueError(f"the farm could not provision this log: {log_configuration['error']}")
    options = log_configuration.get("options") or {}
    group, stream = options.get("logGroupName"), options.get("logStreamName")
    if not group or not stream:
        raise ValueError(f"log configuration without logGroupName/logStreamName: {log_configuration!r}")
    return str(group), str(stream)
