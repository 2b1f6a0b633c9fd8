"""Helpers the management-resource tests share: a fleet configuration, direct store access."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from farmhand.server.store import Store, jobs
from farmhand.testing import ServerProcess

FLEET_ROLE = "arn:aws:iam::123456789012:role/farmhand-fleet"


def customer_managed(**capabilities: Any) -> dict[str, Any]:
    """A customer-managed fleet configuration for Linux x86_64 workers with 2-8 vCPUs."""
    worker_capabilities = {
        "vCpuCount": {"min": 2, "max": 8},
        "memoryMiB": {"min": 2048},
        "osFamily": "LINUX",
        "cpuArchitectureType": "x86_64",
        **capabilities,
    }
    return {"customerManaged": {"mode": "NO_SCALING", "workerCapabilities": worker_capabilities}}


def create_fleet(
    deadline: Any, farm_id: str, name: str = "fleet", *, max_workers: int = 4, **extra: Any
) -> str:
    """A customer-managed Linux fleet (the shape every worker test needs)."""
    return str(
        deadline.create_fleet(
            farmId=farm_id,
            displayName=name,
            roleArn=extra.pop("roleArn", FLEET_ROLE),
            maxWorkerCount=max_workers,
            configuration=extra.pop("configuration", customer_managed()),
            **extra,
        )["fleetId"]
    )


def store_of(server: ServerProcess) -> Store:
    """The server's own database, opened next to it (as a second server process would)."""
    return server.open_store()


def insert_job(server: ServerProcess, farm_id: str, queue_id: str, *, status: str, ready: int = 0) -> str:
    """A job row as the jobs API writes it, with `ready` READY tasks counted on the row."""
    job_id = f"job-{uuid.uuid4().hex}"
    store = store_of(server)
    try:
        with store.write() as conn:
            conn.execute(
                jobs.insert().values(
                    job_id=job_id,
                    farm_id=farm_id,
                    queue_id=queue_id,
                    name="inserted",
                    priority=50,
                    lifecycle_status="CREATE_COMPLETE",
                    lifecycle_status_message="",
                    task_run_status=status,
                    template="{}",
                    template_type="JSON",
                    created_at=dt.datetime.now(dt.UTC),
                    created_by="test",
                    count_ready=ready,
                )
            )
    finally:
        store.dispose()
    return job_id
