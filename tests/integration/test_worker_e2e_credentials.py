"""Fleet-role credentials of a worker against a real farm: first fetch, cache, refresh before expiry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from _worker_farm import Farm, require_worker_protocol

from farmhand.testing import ServerProcess
from farmhand.worker._config import WorkerConfig
from farmhand.worker._credentials import FleetCredentials
from farmhand.worker._host import host_properties
from farmhand.worker._registration import create_worker

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def farm(server: ServerProcess) -> Farm:
    built = Farm(server)
    require_worker_protocol(built)
    return built


def _bootstrap(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """The admin keys as bootstrap credentials, every client pointed at the server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    return server.boto3_session()


def _worker(farm: Farm, tmp_path: Path, bootstrap: boto3.Session) -> tuple[WorkerConfig, str]:
    config = WorkerConfig(farm_id=farm.farm_id, fleet_id=farm.fleet_id, data_dir=tmp_path)
    config.prepare()
    worker_id = create_worker(bootstrap.client("deadline"), config, host_properties())
    return config, worker_id


def _cache(config: WorkerConfig, worker_id: str) -> dict[str, Any]:
    return dict(json.loads((config.credentials_dir / f"{worker_id}.json").read_text()))


def test_fleet_credentials_are_fetched_cached_and_reused(
    farm: Farm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = _bootstrap(farm.server, monkeypatch)
    config, worker_id = _worker(farm, tmp_path, bootstrap)
    # When the worker gets its fleet credentials
    first = FleetCredentials(config, bootstrap, worker_id)
    first.start()
    # Then they are cached privately in credential-process form, at least an hour ahead
    cached = _cache(config, worker_id)
    assert cached["Version"] == 1
    assert (config.credentials_dir / f"{worker_id}.json").stat().st_mode & 0o777 == 0o600
    expiry = dt.datetime.strptime(cached["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert expiry - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=59)
    # And the farm accepts calls signed with them, as the worker
    sts = first.session().client("sts")
    assert worker_id in sts.get_caller_identity()["Arn"]
    # And a restarted worker reuses the cache without a new fetch
    again = FleetCredentials(config, bootstrap, worker_id)
    again.start()
    assert again.credentials is not None
    assert again.credentials.get_frozen_credentials().access_key == cached["AccessKeyId"]


def test_credentials_close_to_expiry_are_refreshed_with_the_current_ones(
    farm: Farm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = _bootstrap(farm.server, monkeypatch)
    config, worker_id = _worker(farm, tmp_path, bootstrap)
    credentials = FleetCredentials(config, bootstrap, worker_id)
    credentials.start()
    assert credentials.credentials is not None
    old_key = credentials.credentials.get_frozen_credentials().access_key
    # Given credentials that are now inside the 10-minute mandatory refresh window
    credentials.credentials._expiry_time = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    # When the worker makes its next call
    sts = credentials.session().client("sts")
    arn = sts.get_caller_identity()["Arn"]
    # Then it refreshed first (signed with the still-valid fleet credentials) and the call succeeds
    new_key = credentials.credentials.get_frozen_credentials().access_key
    assert new_key != old_key
    assert worker_id in arn
    assert _cache(config, worker_id)["AccessKeyId"] == new_key
    # And a cache that is about to expire is not reused by a restarting worker
    cache_file = config.credentials_dir / f"{worker_id}.json"
    doc = _cache(config, worker_id)
    doc["Expiration"] = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cache_file.write_text(json.dumps(doc))
    restarted = FleetCredentials(config, bootstrap, worker_id)
    restarted.start()
    assert restarted.credentials is not None
    assert restarted.credentials.get_frozen_credentials().access_key != new_key
