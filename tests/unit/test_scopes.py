"""The scopes written into role credentials (what the S3 endpoint and the API checks read)."""

from __future__ import annotations

import pytest

from farmhand.server._scopes import check_call_scope, queue_role_scope, s3_scope_of
from farmhand.server.protocol import AccessDeniedError

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


def test_calls_outside_the_scope_are_denied() -> None:
    scope = queue_role_scope(QUEUE, "read")
    check_call_scope(
        scope, "arn", "GetQueue", {"farmId": QUEUE["farmId"], "queueId": QUEUE["queueId"]}, False
    )
    with pytest.raises(AccessDeniedError):
        check_call_scope(scope, "arn", "GetQueue", {"queueId": "queue-" + "3" * 32}, False)
    with pytest.raises(AccessDeniedError):
        check_call_scope(scope, "arn", "UpdateJob", {"queueId": QUEUE["queueId"]}, True)
