"""Fixtures of the end-to-end tests: a headless Chromium for the monitor's browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from _chromium import launch_chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser
