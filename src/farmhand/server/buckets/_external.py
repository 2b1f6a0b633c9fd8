"""An S3-compatible store outside the farm (SeaweedFS, Ceph RGW, AWS S3) holding some queues' buckets.

The farm talks to it with one service identity named in the server's configuration: to read and
write the few objects the service itself handles (input manifests it verifies, job templates it
copies), and to obtain queue credentials from the store's STS AssumeRole with a session policy that
allows only the queue's bucket and prefix. Clients and workers then move bytes straight to the store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import xxhash
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...arns import arn, parse_arn
from ._errors import BucketStoreError, ObjectTooLargeError

MIN_CREDENTIAL_SECONDS = 3600  # botocore refreshes 15 minutes ahead: less would re-assume on every call
DEFAULT_CREDENTIAL_SECONDS = 2 * 3600
_CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"mode": "standard", "max_attempts": 3},
    s3={"addressing_style": "path"},
)
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class IssuedCredentials:
    """Temporary credentials a store issued, with the account its STS answers for them."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: dt.datetime
    account: str


@dataclass(frozen=True)
class ExternalStoreConfig:
    name: str
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    role_arn: str
    buckets: tuple[str, ...]
    region: str = "us-east-1"
    sts_endpoint_url: str | None = None
    credential_seconds: int = DEFAULT_CREDENTIAL_SECONDS


def _policy(bucket: str, prefix: str, access: str) -> str:
    """The session policy: objects under the prefix (read, or read and write) and listing them."""
    actions = ["s3:GetObject"]
    if access == "readwrite":
        actions += ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": [arn("s3", f"{bucket}/{prefix}*")]},
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": [arn("s3", bucket)],
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                },
            ],
        },
        separators=(",", ":"),
    )


def _account_of(role_arn: str) -> str:
    """The account of an STS assumed-role ARN (`arn:aws:sts::<account>:assumed-role/...`)."""
    parsed = parse_arn(role_arn)
    return parsed.account if parsed is not None and parsed.account else "000000000000"


@dataclass
class ExternalStore:
    """One configured store: the service identity's clients, made on first use."""

    config: ExternalStoreConfig
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def endpoint_url(self) -> str:
        return self.config.endpoint_url

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            endpoint = self.config.endpoint_url
            if service == "sts" and self.config.sts_endpoint_url:
                endpoint = self.config.sts_endpoint_url
            session = boto3.Session(
                aws_access_key_id=self.config.access_key_id,
                aws_secret_access_key=self.config.secret_access_key,
                region_name=self.config.region,
            )
            self._clients[service] = session.client(service, endpoint_url=endpoint, config=_CLIENT_CONFIG)  # type: ignore[call-overload]
        return self._clients[service]

    def issue_queue_credentials(
        self, bucket: str, prefix: str, access: str, session_name: str
    ) -> IssuedCredentials:
        """AssumeRole with a session policy limited to `bucket`/`prefix` (read or read-write)."""
        try:
            answer = self._client("sts").assume_role(
                RoleArn=self.config.role_arn,
                RoleSessionName=_SESSION_NAME.sub("-", session_name)[:64],
                DurationSeconds=self.config.credential_seconds,
                Policy=_policy(bucket, prefix, access),
            )
        except (ClientError, BotoCoreError) as exc:
            raise BucketStoreError(
                f"object store {self.name} did not issue queue credentials: {exc}"
            ) from exc
        credentials = answer["Credentials"]
        expiration = credentials["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=dt.UTC)
        return IssuedCredentials(
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
            expiration=expiration,
            account=_account_of(answer.get("AssumedRoleUser", {}).get("Arn", "")),
        )

    def read_object(self, bucket: str, key: str, max_bytes: int) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        body = self._open(bucket, key, max_bytes)
        if body is None:
            return None
        try:
            return bytes(body.read(max_bytes + 1))
        finally:
            body.close()

    def xxh128_of(self, bucket: str, key: str) -> str | None:
        """The xxh3-128 hex digest of the object (streamed), or None when it does not exist."""
        body = self._open(bucket, key, None)
        if body is None:
            return None
        digest = xxhash.xxh3_128()
        try:
            for chunk in body.iter_chunks(1 << 20):
                digest.update(chunk)
        except (BotoCoreError, OSError) as exc:
            raise BucketStoreError(f"object store {self.name} could not read {bucket}/{key}: {exc}") from exc
        finally:
            body.close()
        return str(digest.hexdigest())

    def _open(self, bucket: str, key: str, max_bytes: int | None) -> Any:
        try:
            answer = self._client("s3").get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise BucketStoreError(f"object store {self.name} could not read {bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise BucketStoreError(f"object store {self.name} could not read {bucket}/{key}: {exc}") from exc
        if max_bytes is not None and int(answer.get("ContentLength") or 0) > max_bytes:
            answer["Body"].close()
            raise ObjectTooLargeError(f"{bucket}/{key} is larger than {max_bytes} bytes")
        return answer["Body"]

    def write_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        try:
            self._client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise BucketStoreError(f"object store {self.name} could not write {bucket}/{key}: {exc}") from exc


def load_external_stores(path: Path) -> list[ExternalStore]:
    """Read the stores file (TOML, `[[store]]` tables). It holds secrets: refuse it unless private."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"{path} holds store secrets: make it private first (chmod 600 {path})")
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        raise ValueError(f"{path} holds store secrets and must belong to the user running the farm")
    document = tomllib.loads(path.read_text())
    stores: list[ExternalStore] = []
    seen_buckets: dict[str, str] = {}
    for index, entry in enumerate(document.get("store") or []):
        where = f"{path}: [[store]] #{index + 1}"
        missing = [
            k
            for k in ("name", "endpoint_url", "access_key_id", "secret_access_key", "role_arn", "buckets")
            if not entry.get(k)
        ]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}")
        seconds = int(entry.get("credential_seconds", DEFAULT_CREDENTIAL_SECONDS))
        if not MIN_CREDENTIAL_SECONDS <= seconds <= 43200:
            raise ValueError(f"{where}: credential_seconds must be between 3600 and 43200")
        for bucket in entry["buckets"]:
            if bucket in seen_buckets:
                raise ValueError(f"{where}: bucket {bucket} is already in store {seen_buckets[bucket]}")
            seen_buckets[bucket] = entry["name"]
        stores.append(
            ExternalStore(
                ExternalStoreConfig(
                    name=str(entry["name"]),
                    endpoint_url=str(entry["endpoint_url"]),
                    access_key_id=str(entry["access_key_id"]),
                    secret_access_key=str(entry["secret_access_key"]),
                    role_arn=str(entry["role_arn"]),
                    buckets=tuple(str(b) for b in entry["buckets"]),
                    region=str(entry.get("region") or "us-east-1"),
                    sts_endpoint_url=entry.get("sts_endpoint_url"),
                    credential_seconds=seconds,
                )
            )
        )
    return stores
