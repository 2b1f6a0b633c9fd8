"""The queue profile a worker writes for its jobs and its own transfers carries the farm's CA."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from farmhand.worker._config import WorkerConfig
from farmhand.worker._credentials import QueueCredentials


def _queue_credentials(tmp_path: Path, ca_bundle: str | None) -> QueueCredentials:
    deadline = boto3.Session(region_name="us-west-2").client(
        "deadline",
        endpoint_url="https://farm.example:8080",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(inject_host_prefix=False),
    )
    config = WorkerConfig(farm_id="farm-1", fleet_id="fleet-1", data_dir=tmp_path / "worker")
    endpoints = {"deadline": "https://farm.example:8080", "s3": "https://farm.example:8080"}
    return QueueCredentials(config, "worker-1", "queue-1", deadline, "us-west-2", endpoints, ca_bundle)


def _write(queue: QueueCredentials) -> None:
    expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    keys = {"AccessKeyId": "AK", "SecretAccessKey": "SK", "SessionToken": "T"}
    queue._write({"Version": 1, **keys, "Expiration": expiry})


def test_a_farm_with_its_own_ca_gets_it_in_the_queue_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)  # the environment's would outrank the profile's
    # Given a worker whose profile verifies the farm with the farm's own CA
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    queue = _queue_credentials(tmp_path, str(ca))
    # When it writes the queue profile
    _write(queue)
    # Then a session of that profile (the worker's transfers, the jobs' processes) verifies with it
    session = queue.session()
    assert session._session.get_config_variable("ca_bundle") == str(ca)  # type: ignore[attr-defined]
    assert session.client("s3").meta.endpoint_url == "https://farm.example:8080"


def test_without_a_ca_the_queue_profile_names_none(tmp_path: Path) -> None:
    # Given a farm verified by the system's CAs
    queue = _queue_credentials(tmp_path, None)
    # When the queue profile is written
    _write(queue)
    # Then it has no ca_bundle line
    assert "ca_bundle" not in (queue.directory / "config").read_text()
