"""Where the unmodified AWS worker agent is, for the tests that run it against a farm.

`./scripts/test` installs it in a virtualenv of its own, `.venv-aws-agent` at the top of the
repository, and points FARMHAND_AWS_WORKER_AGENT at it; a test run without it says how to get it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VERSION = "deadline-cloud-worker-agent==0.33.*"
INSTALL = (
    f"./scripts/test installs it (python3 -m venv .venv-aws-agent && "
    f".venv-aws-agent/bin/python -m pip install '{VERSION}'), "
    "or set FARMHAND_AWS_WORKER_AGENT to a deadline-worker-agent"
)


def find_agent() -> str | None:
    """The `deadline-worker-agent` executable: FARMHAND_AWS_WORKER_AGENT, the repository's
    `.venv-aws-agent`, or PATH."""
    named = os.environ.get("FARMHAND_AWS_WORKER_AGENT")
    if named:
        return named
    local = REPO / ".venv-aws-agent" / "bin" / "deadline-worker-agent"
    if local.exists():
        return str(local)
    return shutil.which("deadline-worker-agent")


def agent_executable() -> str:
    """The agent, or a skip that says exactly how to install it."""
    found = find_agent()
    if not found:
        pytest.skip(f"the AWS worker agent is not installed: {INSTALL}")
    return found
