"""Shared fixtures: one real farm server per test session, real boto3 clients against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from farmhand.testing import ServerProcess

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A farm server shared by the integration tests of one session (SQLite)."""
    with ServerProcess(tmp_path_factory.mktemp("server")) as proc:
        yield proc


@pytest.fixture(scope="session")
def deadline(server: ServerProcess) -> Any:
    return server.client("deadline")


@pytest.fixture
def farm_id(deadline: Any) -> str:
    return str(deadline.create_farm(displayName="test farm")["farmId"])
