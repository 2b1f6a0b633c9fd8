"""Headless Chromium from Debian's `chromium` package, driven by Playwright (never a downloaded browser).

`.ci/run` and `scripts/test` install the package; a machine without it fails these tests with the
command that installs it rather than skipping them. Screenshots go to `test-artifacts/monitor/`
(or `$FARMHAND_TEST_ARTIFACTS/monitor/`), kept after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("FARMHAND_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = (
    Path(os.environ.get("FARMHAND_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
    / "monitor"
)


def chromium_path() -> Path:
    found = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or CHROMIUM)
    if not found.exists():
        pytest.fail("Debian's chromium is not installed: `apt-get install chromium` (.ci/run installs it)")
    return found


@contextmanager
def launch_chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def another_chromium(browser: Any, extra_args: list[str]) -> Iterator[Any]:
    """A second Chromium from the running one's Playwright (one Playwright per process), started with
    `extra_args`, e.g. `--ignore-certificate-errors-spki-list=...` to trust one farm's own certificate."""
    other = browser.browser_type.launch(
        executable_path=str(chromium_path()), args=[*CHROMIUM_ARGS, *extra_args]
    )
    try:
        yield other
    finally:
        other.close()


def screenshot(page: Any, name: str) -> Path:
    """Keep what the page shows now as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
