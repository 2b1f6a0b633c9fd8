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

from farmhand._database_url import DATABASE_URL_ENV
from farmhand.server._identity import AdminCredentials, read_admin_credentials
from farmhand.server.farm_secret import attach_farm_secret, load_farm_secret
from farmhand.server.store import Store, sqlite_url

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
        wrapper: list[str] | None = None,
    ) -> None:
        """`wrapper` runs the server through a command that execs it (e.g. `ip netns exec NAME`)."""
        self.wrapper = wrapper or []
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
            *self.wrapper,
            sys.executable,
            "-m",
            "farmhand.server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        args += self.extra_args
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self._environment(),
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

    def _environment(self) -> dict[str, str]:
        """The server's environment: the database URL goes here, never in argv (`ps` shows argv)."""
        env = {**os.environ, **(self.env or {})}
        if self.database_url:
            env[DATABASE_URL_ENV] = self.database_url
        return env

    def open_store(self) -> Store:
        """The server's own database, opened beside it as a second server would (same farm secret)."""
        store = Store(self.database_url or sqlite_url(self.data_dir), migrate=False)
        attach_farm_secret(store, load_farm_secret(self.data_dir, self._environment()))
        return store

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

    @property
    def ca_bundle(self) -> str | None:
        """The farm's own CA certificate when the server serves HTTPS with `--tls`."""
        path = self.data_dir / "tls" / "ca.pem"
        return str(path) if self.url.startswith("https://") and path.exists() else None

    def client(self, service: str, session: boto3.Session | None = None, **config: Any) -> Any:
        """A real boto3 client pointed at this server, host-prefix injection off (and verifying the
        server's certificate with the farm's CA when it serves HTTPS with `--tls`)."""
        session = session or self.boto3_session()
        return session.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            verify=self.ca_bundle,
            config=Config(inject_host_prefix=False, **config),
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
