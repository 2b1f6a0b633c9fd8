"""A farm server in a child process, for tests, benchmarks and the embedded farm."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from farmhand.server._identity import AdminCredentials, read_admin_credentials

READY_MARKER = "farmhand server ready at "


class ServerProcess:
    """`farmhand server --port 0` in a child process; knows its URL and admin credentials."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        port: int = 0,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.port = port
        self.extra_args = extra_args or []
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout: float = 60.0) -> ServerProcess:
        args = [
            sys.executable,
            "-m",
            "farmhand.server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        if self.database_url:
            args += ["--database-url", self.database_url]
        args += self.extra_args
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(self.env or {})},
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if READY_MARKER in line and not self.url:
                    self.url = line.split(READY_MARKER, 1)[1].split()[0]
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout) or not self.url:
            self.stop()
            raise RuntimeError("farm server did not start:\n" + "".join(self.output))
        return self

    @property
    def admin(self) -> AdminCredentials:
        return read_admin_credentials(self.data_dir)

    def boto3_session(self, region: str = "us-west-2") -> boto3.Session:
        admin = self.admin
        return boto3.Session(
            aws_access_key_id=admin.access_key_id,
            aws_secret_access_key=admin.secret_access_key,
            region_name=region,
        )

    def client(self, service: str, session: boto3.Session | None = None, **config: Any) -> Any:
        """A real boto3 client pointed at this server, host-prefix injection off."""
        session = session or self.boto3_session()
        return session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.url, config=Config(inject_host_prefix=False, **config)
        )

    def kill(self) -> None:
        """SIGKILL: the crash the store must survive."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
