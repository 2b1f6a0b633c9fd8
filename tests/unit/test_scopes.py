"""The scopes written into role credentials (what the S3 endpoint and the API checks read)."""

from __future__ import annotations

import pytest

from farmhand.server._scopes import fleet_read_scope, fleet_worker_scope, queue_role_scope, s3_scope_of
from farmhand.server.access import CallerKind, caller_of

QUEUE = {
    "farmId": "farm-" + "1" * 32,
    "queueId": "queue-" + "2" * 32,
    "jobAttachmentSettings": {"s3BucketName": "_farmhand-x", "rootPrefix": "jobs/q1"},
}


@pytest.mark.parametrize(
    ("role", "access"), [("user", "readwrite"), ("worker", "readwrite"), ("read", "read")]
)
def test_queue_roles_reach_the_queue_prefix_only(role: str, access: str) -> None:
    scope = queue_role_scope(QUEUE, role)
    assert scope["queueId"] == QUEUE["queueId"] and scope["role"] == role
    assert s3_scope_of(scope) == {"bucket": "_farmhand-x", "prefix": "jobs/q1/", "access": access}


def test_a_queue_without_attachments_gives_no_object_store_access() -> None:
    scope = queue_role_scope({"farmId": QUEUE["farmId"], "queueId": QUEUE["queueId"]}, "user")
    assert s3_scope_of(scope) is None


def test_unknown_roles_are_refused() -> None:
    with pytest.raises(ValueError):
        queue_role_scope(QUEUE, "admin")


def test_the_minted_scopes_are_the_ones_the_access_table_knows() -> None:
    """Each scope written here classifies as its kind of caller (an unknown scope grants nothing)."""
    farm, fleet = QUEUE["farmId"], "fleet-" + "4" * 32
    kinds = {
        "user": queue_role_scope(QUEUE, "user"),
        "worker": queue_role_scope(QUEUE, "worker"),
        "read": queue_role_scope(QUEUE, "read"),
        "fleet-read": fleet_read_scope(farm, fleet),
        "fleet": fleet_worker_scope(farm, fleet, "worker-" + "5" * 32),
    }
    found = {name: caller_of("p", "arn", "role", scope).kind for name, scope in kinds.items()}
    assert found == {
        "user": CallerKind.QUEUE,
        "worker": CallerKind.QUEUE,
        "read": CallerKind.QUEUE_READ,
        "fleet-read": CallerKind.FLEET_READ,
        "fleet": CallerKind.WORKER,
    }
