"""Memberships: Associate/Disassociate/List members of farms, queues, fleets and jobs.

Who may call these (and the rule that only an OWNER grants or takes away OWNER) is the access
table's business; here the resource must exist, the member must be a user or group of this farm's
identity store, and a membership is one row per resource and principal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from ..access import put_membership, remove_membership
from ..identity_store import identity_store_id, lookup_principal
from ..jobs import require_job
from ..protocol import ResourceNotFoundError, ValidationError
from ..store import memberships
from ._common import page
from ._registry import Call, Output, Params, operation
from .farms import require_farm
from .fleets import require_fleet
from .queues import require_queue

# How each resource kind is named in requests: its id members, outermost first.
ID_MEMBERS = {
    "farm": ("farmId",),
    "queue": ("farmId", "queueId"),
    "fleet": ("farmId", "fleetId"),
    "job": ("farmId", "queueId", "jobId"),
}


def _require_resource(call: Call, kind: str, params: Params) -> str:
    """The resource's id, or ResourceNotFoundException."""
    farm_id = params["farmId"]
    if kind == "farm":
        require_farm(call, farm_id)
        return str(farm_id)
    if kind == "queue":
        require_queue(call.conn, farm_id, params["queueId"])
        return str(params["queueId"])
    if kind == "fleet":
        require_fleet(call.conn, farm_id, params["fleetId"])
        return str(params["fleetId"])
    require_job(call.conn, farm_id, params["queueId"], params["jobId"])
    return str(params["jobId"])


def _require_principal(call: Call, principal_id: str, principal_type: str) -> None:
    """The member is a user or group of the farm's identity store, of the type the request says."""
    found = lookup_principal(call.conn, principal_id)
    if found is None or found.principal_type != principal_type:
        raise ResourceNotFoundError(principal_type.lower(), principal_id)


def _associate(call: Call, kind: str, params: Params) -> Output:
    resource_id = _require_resource(call, kind, params)
    store_id = identity_store_id(call.conn)
    if params["identityStoreId"] != store_id:
        raise ValidationError.for_field("identityStoreId", f"is not this farm's identity store ({store_id})")
    _require_principal(call, params["principalId"], params["principalType"])
    put_membership(
        call.conn,
        kind=kind,
        resource_id=resource_id,
        farm_id=params["farmId"],
        queue_id=params.get("queueId") if kind == "job" else None,
        principal_id=params["principalId"],
        principal_type=params["principalType"],
        identity_store=store_id,
        level=params["membershipLevel"],
        now=call.now,
    )
    return {}


def _disassociate(call: Call, kind: str, params: Params) -> Output:
    resource_id = _require_resource(call, kind, params)
    if not remove_membership(call.conn, kind, resource_id, params["principalId"]):
        raise ResourceNotFoundError(
            "member", params["principalId"], f"{params['principalId']} is not a member of {resource_id}"
        )
    return {}


def _list(call: Call, kind: str, params: Params) -> Output:
    resource_id = _require_resource(call, kind, params)
    stmt = select(memberships).where(
        and_(memberships.c.resource_kind == kind, memberships.c.resource_id == resource_id)
    )
    rows, token = page(call.conn, stmt, [memberships.c.created_at, memberships.c.principal_id], params)
    ids = {member: params[member] for member in ID_MEMBERS[kind]}
    return {"members": [_member(row, ids) for row in rows], "nextToken": token}


def _member(row: Any, ids: dict[str, Any]) -> dict[str, Any]:
    return {
        **ids,
        "principalId": row.principal_id,
        "principalType": row.principal_type,
        "identityStoreId": row.identity_store_id,
        "membershipLevel": row.membership_level,
    }


def _register(kind: str, name: str) -> None:
    operation(f"AssociateMemberTo{name}")(lambda call, params: _associate(call, kind, params))
    operation(f"DisassociateMemberFrom{name}")(lambda call, params: _disassociate(call, kind, params))
    operation(f"List{name}Members")(lambda call, params: _list(call, kind, params))


for _kind, _name in (("farm", "Farm"), ("queue", "Queue"), ("fleet", "Fleet"), ("job", "Job")):
    _register(_kind, _name)
