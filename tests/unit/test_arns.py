"""ARNs are built by one function and read by one, and botocore's ARN parser agrees with both."""

from __future__ import annotations

import pytest
from botocore.utils import ArnParser

from farmhand.arns import Arn, arn, log_group_named, parse_arn

CASES = [
    ("deadline", "farm/farm-1/queue/queue-2/job/job-3", "123456789012", "us-west-2"),
    ("iam", "role/farmhand-queue-queue-2", "123456789012", ""),
    ("sts", "assumed-role/farmhand-user/alice", "123456789012", ""),
    ("logs", "log-group:/aws/deadline/farm-1/queue-2:*", "123456789012", "us-west-2"),
    ("s3", "bucket/prefix/*", "", ""),
]


@pytest.mark.parametrize(("service", "resource", "account", "region"), CASES, ids=[c[0] for c in CASES])
def test_built_arns_parse_back_and_botocore_reads_them_alike(
    service: str, resource: str, account: str, region: str
) -> None:
    # Given an ARN built by the one builder
    text = arn(service, resource, account=account, region=region)
    # Then it reads back into its parts, and botocore's parser finds the same parts
    assert parse_arn(text) == Arn(service, region, account, resource)
    assert ArnParser().parse_arn(text) == {
        "partition": "aws",
        "service": service,
        "region": region,
        "account": account,
        "resource": resource,
    }


@pytest.mark.parametrize("text", ["", "farm-1", "arn:aws:deadline", "arn:aws::r:a:x", "urn:aws:s3:::b"])
def test_what_is_not_an_arn_reads_as_none(text: str) -> None:
    assert parse_arn(text) is None


def test_a_log_group_identifier_names_its_group() -> None:
    group = "/aws/deadline/farm-1/queue-2"
    assert log_group_named(group) == group
    assert log_group_named(arn("logs", f"log-group:{group}", account="1", region="r")) == group
    assert log_group_named(arn("logs", f"log-group:{group}:*", account="1", region="r")) == group
    # Any other ARN names no group
    assert log_group_named(arn("iam", "role/x", account="1")) == ""
