"""The access table names every operation of the Deadline Cloud model and every operation served."""

from __future__ import annotations

import botocore.session
import pytest

from farmhand.server.access import TABLE, Caller, CallerKind, Rule, caller_of, rule_for
from farmhand.server.access._refs import ref_of_arn, ref_of_log_group
from farmhand.server.handlers import load_handlers


def test_every_deadline_operation_has_its_line() -> None:
    model = botocore.session.get_session().get_service_model("deadline")
    assert set(model.operation_names) == set(TABLE["deadline"])


def test_every_served_operation_has_an_explicit_line() -> None:
    served = set(load_handlers())
    missing = {(service, name) for service, name in served if name not in TABLE.get(service, {})}
    assert missing == set()


def test_operations_the_table_does_not_name_are_the_admins() -> None:
    model = botocore.session.get_session().get_service_model("logs")
    for name in model.operation_names:
        if name not in TABLE["logs"]:
            rule = rule_for("logs", name)
            assert rule == Rule() and rule.level is None and not rule.anyone, name


def test_no_scoped_credentials_manage_the_farm() -> None:
    """Farm structure and credentials of others are never reachable by queue, fleet or worker keys."""
    for name in (
        "CreateFarm",
        "CreateQueue",
        "UpdateQueue",
        "CreateFleet",
        "CreateQueueFleetAssociation",
        "CreateWorker",
        "AssumeQueueRoleForUser",
        "AssumeQueueRoleForRead",
        "AssumeFleetRoleForRead",
        "TagResource",
    ):
        rule = TABLE["deadline"][name]
        assert rule.queue.value == "no" and not rule.fleet_read and rule.worker.value == "no", name


@pytest.mark.parametrize(
    ("scope", "kind"),
    [
        (None, CallerKind.USER),
        ({"farmId": "farm-1", "queueId": "queue-1", "role": "user"}, CallerKind.QUEUE),
        ({"farmId": "farm-1", "queueId": "queue-1", "role": "worker"}, CallerKind.QUEUE),
        ({"farmId": "farm-1", "queueId": "queue-1", "role": "read"}, CallerKind.QUEUE_READ),
        ({"farmId": "farm-1", "fleetId": "fleet-1", "role": "read"}, CallerKind.FLEET_READ),
        (
            {"farmId": "farm-1", "fleetId": "fleet-1", "workerId": "worker-1", "role": "fleet"},
            CallerKind.WORKER,
        ),
        ({"farmId": "farm-1", "queueId": "queue-1", "fleetId": "fleet-1", "role": "user"}, CallerKind.NONE),
        ({"farmId": "farm-1", "role": "user"}, CallerKind.NONE),
        ({"queueId": "queue-1", "role": "user"}, CallerKind.NONE),
        ({"farmId": "farm-1", "queueId": "queue-1", "role": "admin"}, CallerKind.NONE),
    ],
)
def test_credentials_are_classified_by_their_scope(scope: dict[str, str] | None, kind: CallerKind) -> None:
    assert caller_of("p", "arn", "user" if scope is None else "queue-role", scope).kind is kind


def test_only_the_admin_principal_is_admin() -> None:
    assert caller_of("admin", "arn", "user", None) == Caller(CallerKind.ADMIN, "admin", "arn")
    assert caller_of("admin", "arn", "queue-role", None).kind is CallerKind.NONE


def test_arns_and_log_groups_name_their_resources() -> None:
    arn = "arn:aws:deadline:us-west-2:123456789012:farm/farm-1/queue/queue-2/job/job-3"
    ref = ref_of_arn(arn)
    assert (ref.kind, ref.farm, ref.queue, ref.job) == ("job", "farm-1", "queue-2", "job-3")
    assert ref_of_arn("arn:aws:deadline:us-west-2:1:farm/farm-1/fleet/fleet-2").kind == "fleet"
    assert ref_of_arn("arn:aws:deadline:us-west-2:1:farm/farm-1/budget/b-1").kind == "unknown"
    assert ref_of_arn("arn:aws:s3:::bucket").kind == "unknown"
    assert ref_of_log_group("/aws/deadline/farm-1/queue-2", "session-3").kind == "queue-logs"
    assert ref_of_log_group("/aws/deadline/farm-1/fleet-2").kind == "fleet-logs"
    assert ref_of_log_group("/farmhand/audit/farm-1").kind == "audit-logs"
    assert ref_of_log_group("/farmhand/audit").kind == "unknown"
    assert ref_of_log_group("/aws/deadline/farm-1/queue-2/../fleet-3").kind == "unknown"


def test_every_object_store_action_has_its_line() -> None:
    from farmhand.server.object_store import S3Action

    assert {action.value for action in S3Action} == set(TABLE["s3"])
