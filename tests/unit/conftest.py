"""Fixtures shared by unit tests that need a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from farmhand.server.farm_secret import FarmSecret, attach_farm_secret
from farmhand.server.store import Store, sqlite_url


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    """One write transaction on a fresh, migrated SQLite store."""
    store = Store(sqlite_url(tmp_path))
    attach_farm_secret(store, FarmSecret.generate())
    with store.write() as connection:
        yield connection
    store.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated SQLite store (test modules needing another kind define their own)."""
    store = Store(sqlite_url(tmp_path))
    yield store
    store.dispose()
