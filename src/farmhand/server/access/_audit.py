"""The audit trail: every mutating call and every denied call, as log events farm owners read.

Records go to the log group `/farmhand/audit/<farmId>` of the farm the call named (calls naming no
farm: `/farmhand/audit`, the admin's), one stream per UTC day, one JSON event per call: time,
principal, operation, resource, result. A successful change is recorded in its own transaction, so
the record exists exactly when the change does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ..logs import append_events
from ..protocol import format_timestamp
from ._callers import Caller
from ._refs import Ref, audit_log_group, first_farm

ALLOWED = "ALLOWED"
DENIED = "DENIED"

# The ids that name where a call acted, outermost first.
_ID_MEMBERS = ("farm", "queue", "fleet", "job", "step", "task", "session", "sessionAction", "worker")


def resource_of(refs: Sequence[Ref], params: Mapping[str, Any], output: Mapping[str, Any] | None) -> str:
    """What the call acted on: its ids (with those its answer created), else the resources it named."""
    ids = {k: v for k, v in params.items() if isinstance(v, str)}
    ids.update({k: v for k, v in (output or {}).items() if isinstance(v, str)})
    parts = [f"{name}/{ids[name + 'Id']}" for name in _ID_MEMBERS if ids.get(name + "Id")]
    if parts:
        return "/".join(parts)
    return ",".join(ref.path() for ref in refs) or "*"


def record(
    conn: Connection,
    *,
    caller: Caller,
    operation: str,
    farm_id: str | None,
    resource: str,
    result: str,
    request_id: str,
    now: dt.datetime,
) -> None:
    """Append one audit event (creating the farm's audit group and the day's stream on first use)."""
    group = audit_log_group(farm_id)
    stream = now.strftime("%Y-%m-%d")
    millis = int(now.timestamp() * 1000)
    message = json.dumps(
        {
            "time": format_timestamp(now),
            "principal": caller.arn,
            "principalId": caller.principal_id,
            "operation": operation,
            "resource": resource,
            "result": result,
            "requestId": request_id,
        },
        separators=(",", ":"),
    )
    append_events(conn, group, stream, [(millis, message)], millis)


def farm_of(refs: Sequence[Ref], params: Mapping[str, Any], output: Mapping[str, Any] | None) -> str | None:
    farm = first_farm(refs) or params.get("farmId") or (output or {}).get("farmId")
    return str(farm) if farm else None
