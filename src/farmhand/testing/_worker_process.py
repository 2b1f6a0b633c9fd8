"""A farmhand worker agent in a child process, pointed at a ServerProcess through the environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from ._server_process import ServerProcess

# Variables that would point the worker somewhere other than the server under test.
_AWS_OVERRIDES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DEADLINE",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_S3",
)


def server_environment(server: ServerProcess, home: Path, endpoint_url: str | None = None) -> dict[str, str]:
    """Process environment that sends every AWS client to `server` (or to `endpoint_url`, such as a
    load balancer in front of several servers) with the server's admin keys as bootstrap."""
    admin = server.admin
    env = {k: v for k, v in os.environ.items() if k not in _AWS_OVERRIDES}
    env.update(
        AWS_ENDPOINT_URL=endpoint_url or server.url,
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_ACCESS_KEY_ID=admin.access_key_id,
        AWS_SECRET_ACCESS_KEY=admin.secret_access_key,
        AWS_DEFAULT_REGION="us-west-2",
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


class WorkerProcess:
    """`python -m farmhand.worker` for one fleet; output goes to `worker.out` in its data dir.

    It calls `server`, or `endpoint_url` when given (a load balancer in front of several servers).
    """

    def __init__(
        self,
        server: ServerProcess,
        farm_id: str,
        fleet_id: str,
        data_dir: Path,
        *,
        extra_args: list[str] | None = None,
        endpoint_url: str | None = None,
        wrapper: list[str] | None = None,
    ) -> None:
        """`wrapper` runs the worker through a command that execs it (e.g. `ip netns exec NAME`)."""
        self.wrapper = wrapper or []
        self.server = server
        self.endpoint_url = endpoint_url
        self.farm_id = farm_id
        self.fleet_id = fleet_id
        self.data_dir = Path(data_dir)
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def output_file(self) -> Path:
        return self.data_dir / "worker.out"

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            *self.wrapper,
            sys.executable,
            "-m",
            "farmhand.worker",
            "--farm-id",
            self.farm_id,
            "--fleet-id",
            self.fleet_id,
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        with self.output_file.open("ab") as out:
            self.process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=server_environment(self.server, self.data_dir, self.endpoint_url),
                start_new_session=True,
            )
        return self

    @property
    def worker_id(self) -> str | None:
        try:
            return str(json.loads((self.data_dir / "worker.json").read_text())["workerId"])
        except (OSError, ValueError, KeyError):
            return None

    def wait_registered(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.worker_id:
                return self.worker_id
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"worker did not register:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.output_file.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the agent alone: its task processes die with it (its guard kills them)."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM: the agent drains and reports; returns its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
