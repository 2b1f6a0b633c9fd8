"""The pytest plugin (entry point `farmhand`): fixtures that run real farms.

    def test_my_bundle(local_farm):
        job_id = local_farm.submit("path/to/bundle", {"Frames": "1-3"})
        assert local_farm.wait(job_id)["taskRunStatus"] == "SUCCEEDED"

`@pytest.mark.local_farm(workers=2)` sets the number of workers (default 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._local_farm import LocalFarm


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_farm(workers=1): options of the farm the `local_farm` fixture starts"
    )


@pytest.fixture
def local_farm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFarm]:
    """A throw-away farm (server + workers) on a free port, with its own AWS and deadline config files."""
    from ._local_farm import LocalFarm

    marker = request.node.get_closest_marker("local_farm")
    workers = int(marker.kwargs.get("workers", 1)) if marker else 1
    with LocalFarm(workers=workers, directory=tmp_path_factory.mktemp("local_farm")) as farm:
        yield farm
