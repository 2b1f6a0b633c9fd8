"""A user's machine in miniature for tests of `farmhand up`: a data dir and their own config files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]
FARMHAND = [str(Path(sys.executable).with_name("farmhand"))]
DEADLINE = [str(Path(sys.executable).with_name("deadline"))]


@dataclass
class Workstation:
    """A user's machine in miniature: a data dir and their own AWS and deadline config files."""

    root: Path
    env: dict[str, str]

    @property
    def data_dir(self) -> Path:
        return self.root / "farm"

    @property
    def aws_config(self) -> Path:
        return Path(self.env["AWS_CONFIG_FILE"])

    @property
    def deadline_config(self) -> Path:
        return Path(self.env["DEADLINE_CONFIG_FILE_PATH"])

    def run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command from the repository root with this workstation's environment."""
        return subprocess.run(
            list(command),
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def farmhand(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run(*FARMHAND, *args, timeout=timeout)

    def deadline(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The AWS `deadline` CLI, configured only by what `farmhand up` wrote."""
        return self.run(*DEADLINE, *args, timeout=timeout)

    def up(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.farmhand("up", "--detach", "--data-dir", str(self.data_dir), "--port", "0", *args)

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.farmhand("down", "--data-dir", str(self.data_dir))

    def status(self) -> dict[str, Any]:
        result = self.farmhand("status", "--json", "--data-dir", str(self.data_dir))
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    def deadline_client(self) -> Any:
        return self.client("deadline")

    def client(self, service: str) -> Any:
        """A boto3 client configured only through the profile `farmhand up` wrote."""
        saved = {name: os.environ.get(name) for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
        os.environ.update({name: self.env[name] for name in saved})
        try:
            return boto3.Session(profile_name="farmhand").client(service)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def workstation(tmp_path: Path) -> Iterator[Workstation]:
    station = new_workstation(tmp_path)
    yield station
    station.down()


def new_workstation(root: Path) -> Workstation:
    """Config files of its own under `root`; no AWS variable of the caller leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "DEADLINE_CONFIG_FILE_PATH"
    }
    env.update(
        AWS_CONFIG_FILE=str(root / "aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "aws" / "credentials"),
        DEADLINE_CONFIG_FILE_PATH=str(root / "deadline" / "config"),
    )
    return Workstation(root, env)


def pids_alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
