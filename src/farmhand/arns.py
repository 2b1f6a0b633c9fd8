"""Amazon Resource Names, built and read in one place for the client and the server.

An ARN is `arn:aws:<service>:<region>:<account>:<resource>`; IAM, STS, Identity Store and S3 ARNs
leave the region empty, and S3 ones the account too. Every ARN the farm hands out is made by `arn`,
and every one it is handed is read by `parse_arn`, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Arn", "arn", "log_group_named", "parse_arn"]


@dataclass(frozen=True)
class Arn:
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:aws:{self.service}:{self.region}:{self.account}:{self.resource}"


def arn(service: str, resource: str, *, account: str = "", region: str = "") -> str:
    """The ARN of `resource` (e.g. `farm/farm-1/queue/queue-2`, `role/name`) in `service`."""
    return str(Arn(service, region, account, resource))


def parse_arn(text: str) -> Arn | None:
    """The parts of an `arn:aws:...` string, or None when it is not one."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != "aws" or not parts[2]:
        return None
    return Arn(service=parts[2], region=parts[3], account=parts[4], resource=parts[5])


def log_group_named(identifier: str) -> str:
    """The log group a `logGroupIdentifier` names: itself, or the one inside a log-group ARN
    (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`; empty for any other ARN)."""
    if not identifier.startswith("arn:"):
        return identifier
    parsed = parse_arn(identifier)
    if parsed is None or not parsed.resource.startswith("log-group:"):
        return ""
    return parsed.resource.removeprefix("log-group:").removesuffix(":*")
