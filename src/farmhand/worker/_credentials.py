"""The worker's fleet-role credentials: obtained with AssumeFleetRoleForWorker and refreshed before expiry.

Bootstrap credentials (a profile or the default chain) only register the worker and fetch the first
fleet credentials; every later call is signed with fleet credentials, and refreshes are signed with
the current fleet credentials while they are valid. The latest credentials are cached in the data
dir (credential-process format, mode 0600) so a restarted worker does not need bootstrap keys again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

from ._config import WorkerConfig
from ._retry import call_with_retry

log = logging.getLogger("farmhand.worker")

# botocore refreshes 15 minutes before expiry (advisory) and blocks calls from 10 minutes before
# (mandatory), the AWS agent's margins; cached credentials closer than that to expiry are not reused.
MANDATORY_REFRESH = dt.timedelta(minutes=10)
DEFAULT_REGION = "us-west-2"


def client_config(**overrides: Any) -> Config:
    """Client settings for worker calls: standard retries, short connects."""
    settings: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 3},
        "connect_timeout": 5,
        "read_timeout": 60,
    }
    settings.update(overrides)
    return Config(**settings)


def bootstrap_session(config: WorkerConfig) -> boto3.Session:
    session = boto3.Session(profile_name=config.profile, region_name=config.region)
    if session.region_name is None:
        session = boto3.Session(profile_name=config.profile, region_name=DEFAULT_REGION)
    return session


def _session_with(config: WorkerConfig, region: str, credentials: Any) -> boto3.Session:
    """A boto3 session using `credentials`, with the profile's endpoint settings (when a profile is set)."""
    core = botocore.session.Session(profile=config.profile)
    core._credentials = credentials  # type: ignore[attr-defined]  # the documented way to give a botocore session refreshable credentials
    return boto3.Session(botocore_session=core, region_name=region)


class FleetCredentials:
    """Refreshable fleet-role credentials for one worker, and boto3 sessions that use them."""

    def __init__(self, config: WorkerConfig, bootstrap: boto3.Session, worker_id: str) -> None:
        self.config = config
        self.bootstrap = bootstrap
        self.worker_id = worker_id
        self.region: str = bootstrap.region_name or DEFAULT_REGION
        self._latest: dict[str, Any] | None = self._read_cache()
        self._lock = threading.Lock()
        self.credentials: RefreshableCredentials | None = None

    @property
    def cache_file(self) -> Path:
        return self.config.credentials_dir / f"{self.worker_id}.json"

    def start(self, stop: threading.Event | None = None) -> None:
        """Obtain the first credentials (cached ones when still valid long enough)."""
        latest = self._latest
        if latest is None or _remaining(latest) < MANDATORY_REFRESH:
            latest = call_with_retry("AssumeFleetRoleForWorker", self._assume, stop=stop)
        self.credentials = RefreshableCredentials.create_from_metadata(
            metadata=_metadata(latest), refresh_using=self._refresh, method="farmhand-fleet-role"
        )

    def session(self) -> boto3.Session:
        if self.credentials is None:
            raise RuntimeError("fleet credentials not started")
        return _session_with(self.config, self.region, self.credentials)

    def forget(self) -> None:
        self._latest = None
        self.cache_file.unlink(missing_ok=True)

    # -- fetching --------------------------------------------------------------------------------

    def _refresh(self) -> dict[str, Any]:
        latest = call_with_retry("AssumeFleetRoleForWorker", self._assume)
        return _metadata(latest)

    def _assume(self) -> dict[str, Any]:
        """Call AssumeFleetRoleForWorker signed with the current fleet credentials, else bootstrap ones."""
        with self._lock:
            latest = self._latest
        if latest is not None and _remaining(latest) > dt.timedelta(minutes=1):
            static = Credentials(latest["AccessKeyId"], latest["SecretAccessKey"], latest["SessionToken"])
            session = _session_with(self.config, self.region, static)
        else:
            session = self.bootstrap
        client = session.client("deadline", config=client_config())
        answer = client.assume_fleet_role_for_worker(
            farmId=self.config.farm_id, fleetId=self.config.fleet_id, workerId=self.worker_id
        )
        creds = answer["credentials"]
        expiration: dt.datetime = creds["expiration"]
        latest = {
            "Version": 1,
            "AccessKeyId": creds["accessKeyId"],
            "SecretAccessKey": creds["secretAccessKey"],
            "SessionToken": creds["sessionToken"],
            "Expiration": expiration.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        with self._lock:
            self._latest = latest
            self._write_cache(latest)
        log.info("fleet credentials obtained, valid until %s", latest["Expiration"])
        return latest

    def _read_cache(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            return None
        required = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
        return doc if isinstance(doc, dict) and all(doc.get(k) for k in required) else None

    def _write_cache(self, latest: dict[str, Any]) -> None:
        self.config.credentials_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.cache_file.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(latest, handle)
        temporary.replace(self.cache_file)


def _expiry(latest: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(latest["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _remaining(latest: dict[str, Any]) -> dt.timedelta:
    return _expiry(latest) - dt.datetime.now(dt.UTC)


def _metadata(latest: dict[str, Any]) -> dict[str, Any]:
    return {
        "access_key": latest["AccessKeyId"],
        "secret_key": latest["SecretAccessKey"],
        "token": latest["SessionToken"],
        "expiry_time": _expiry(latest).isoformat(),
    }
