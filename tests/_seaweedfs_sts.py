"""SeaweedFS with STS AssumeRole, as an external store of queue buckets for a farm.

The store knows the farm's service identity and one role it may assume; the farm passes a session
policy with each AssumeRole, which SeaweedFS enforces on the credentials it issues.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from _seaweedfs import ACCOUNT_ID, SeaweedFS

SERVICE_KEY = "farmhandservice"
SERVICE_SECRET = "farmhand-service-secret-0123456789"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/FarmhandQueues"
STORE_ACCOUNT = ACCOUNT_ID

_IAM_CONFIG = {
    "sts": {
        "tokenDuration": "1h",
        "maxSessionLength": "12h",
        "issuer": "seaweedfs-sts",
        "signingKey": "ZmFybWhhbmQtdGVzdC1zaWduaW5nLWtleS0zMmJ5dGVz",
    },
    "policy": {"defaultEffect": "Deny", "storeType": "memory"},
    "roles": [
        {
            "roleName": "FarmhandQueues",
            "roleArn": ROLE_ARN,
            "trustPolicy": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole"]}],
            },
            "attachedPolicies": ["QueueObjects"],
        }
    ],
    "policies": [
        {
            "name": "QueueObjects",
            "document": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:*"],
                        "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
                    },
                    {"Effect": "Allow", "Action": ["sts:ValidateSession"], "Resource": ["*"]},
                ],
            },
        }
    ],
}


class SeaweedSTS(SeaweedFS):
    """`weed mini` with the farm's service identity and a role it may assume."""

    def __init__(self, data_dir: Path) -> None:
        service = {
            "name": "farmhand",
            "credentials": [{"accessKey": SERVICE_KEY, "secretKey": SERVICE_SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        super().__init__(data_dir, identities=[service], iam_config=_IAM_CONFIG)

    def __enter__(self) -> SeaweedSTS:
        self.start()
        return self

    def service_client(self, service: str) -> Any:
        """A client signed with the farm's service identity."""
        session = boto3.Session(
            aws_access_key_id=SERVICE_KEY, aws_secret_access_key=SERVICE_SECRET, region_name="us-east-1"
        )
        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
        return session.client(service, endpoint_url=self.url, config=config)  # type: ignore[call-overload]

    def stores_file(self, path: Path, buckets: list[str], name: str = "seaweed") -> Path:
        """The farm's private `--object-stores` file naming this store and the buckets it holds."""
        lines = [
            "[[store]]",
            f'name = "{name}"',
            f'endpoint_url = "{self.url}"',
            f'access_key_id = "{SERVICE_KEY}"',
            f'secret_access_key = "{SERVICE_SECRET}"',
            f'role_arn = "{ROLE_ARN}"',
            "buckets = [" + ", ".join(f'"{b}"' for b in buckets) + "]",
            "",
        ]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines))
        return path
