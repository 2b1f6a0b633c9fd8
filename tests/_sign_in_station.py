"""A person's workstation for sign-in tests: its own AWS and deadline config files, no AWS variables.

Commands run as real processes (`farmhand`, `farmhand-monitor`, the AWS `deadline` CLI), because a
sign-in profile's credentials come from a `credential_process` child anyway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

BIN = Path(sys.executable).parent
BROWSER_SCRIPT = Path(__file__).with_name("_browser.py")


@dataclass
class SignInStation:
    root: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "BROWSER"}
        env.update(
            AWS_CONFIG_FILE=str(self.root / "aws" / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.root / "aws" / "credentials"),
            DEADLINE_CONFIG_FILE_PATH=str(self.root / "deadline" / "config"),
            DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
        )
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    @property
    def aws_config(self) -> Path:
        return self.root / "aws" / "config"

    @property
    def aws_credentials(self) -> Path:
        return self.root / "aws" / "credentials"

    @property
    def deadline_config(self) -> Path:
        return self.root / "deadline" / "config"

    def token_file(self, profile: str) -> Path:
        return self.root / "aws" / "farmhand" / "sign-in" / f"{profile}.json"

    def run(
        self,
        program: str,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / program), *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def farmhand(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("farmhand", *args, input=input)

    def browser_env(self, user: str, password: str, cafile: str | None = None) -> dict[str, str]:
        """`BROWSER` set to a person who signs in as `user` and approves whatever code it is shown."""
        env = {
            "BROWSER": f"{sys.executable} {BROWSER_SCRIPT} %s",
            "FARMHAND_TEST_USER": user,
            "FARMHAND_TEST_PASSWORD": password,
        }
        if cafile:
            env["FARMHAND_TEST_CAFILE"] = cafile
        return env

    @contextmanager
    def environment(self) -> Iterator[None]:
        """This process with the station's files (for boto3 and the client library in-process)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def session(self, profile: str) -> Any:
        with self.environment():
            session = boto3.Session(profile_name=profile)
            session.get_credentials()  # resolved now, while the files are in place
            return session
