"""`/healthz` and `/readyz`: what a load balancer or an orchestrator asks a farm server, unauthenticated.

`/healthz` answers while the process serves at all (liveness): restart the server if it does not.
`/readyz` answers 200 only when the farm's database answers too (readiness): a balancer should send
no calls to a server that is not ready. Both bodies say which server answered and whether it keeps
house for the farm (see `server.cluster`); neither reveals anything about the farm's contents.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

log = logging.getLogger("farmhand.server")

HEALTH_PATHS = ("/healthz", "/readyz")


@dataclass(frozen=True)
class HealthAnswer:
    status: int
    body: bytes


def health(runtime: Any, path: str) -> HealthAnswer:
    """The answer to GET `path` (one of HEALTH_PATHS); /readyz runs one query, so call it off the loop."""
    doc: dict[str, Any] = {
        "status": "alive",
        "node": runtime.cluster.node_id,
        "keepsHouse": runtime.cluster.keeps_house,
    }
    status = 200
    if path == "/readyz":
        try:
            with runtime.store.read() as conn:
                conn.execute(text("SELECT 1"))
            doc["status"] = "ready"
        except Exception as exc:
            log.warning("not ready: the database does not answer (%s)", exc)
            doc["status"] = "database unreachable"
            status = 503
    if runtime.stopping.is_set():
        doc["status"] = "stopping"
        status = 503
    return HealthAnswer(status, json.dumps(doc).encode())
