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
import threading
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

from .._private_files import make_private_dir, write_private_text
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
        self._stop: threading.Event | None = None
        self.credentials: RefreshableCredentials | None = None

    @property
    def cache_file(self) -> Path:
        return self.config.credentials_dir / f"{self.worker_id}.json"

    def start(self, stop: threading.Event | None = None) -> None:
        """Obtain the first credentials (cached ones when still valid long enough); `stop` also ends
        the retries of later refreshes."""
        self._stop = stop
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
        latest = call_with_retry("AssumeFleetRoleForWorker", self._assume, stop=self._stop)
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
        make_private_dir(self.config.credentials_dir)
        write_private_text(self.cache_file, json.dumps(latest))


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


QUEUE_REFRESH_BEFORE = dt.timedelta(minutes=15)
QUEUE_RETRY_SECONDS = 60.0


class QueueCredentials:
    """Queue-role credentials for the processes of a queue's sessions, as an AWS profile.

    Written to `<data dir>/queues/<queueId>/` as the AWS agent does: a credential-process JSON file,
    a script printing it, and `config`/`credentials` files with profile `deadline-<queueId>`. Session
    processes get AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE pointing there. The
    profile also names the farm's endpoints, so jobs reach this farm even without the agent's
    environment. A background thread refreshes the credentials 15 minutes before they expire.
    """

    def __init__(
        self,
        config: WorkerConfig,
        worker_id: str,
        queue_id: str,
        deadline: Any,
        region: str,
        endpoints: dict[str, str],
        ca_bundle: str | None = None,
    ) -> None:
        self.config = config
        self.endpoints = endpoints
        # The CA that verifies a farm serving HTTPS with its own certificate authority (None: the
        # system's): the worker's own transfers and its jobs' processes use the queue profile.
        self.ca_bundle = ca_bundle
        self.worker_id = worker_id
        self.queue_id = queue_id
        self.deadline = deadline
        self.region = region
        self.directory = config.queues_dir / queue_id
        self.profile = f"deadline-{queue_id}"
        self.expiration: dt.datetime | None = None
        self.available = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def environment(self) -> dict[str, str]:
        return {
            "AWS_PROFILE": self.profile,
            "AWS_CONFIG_FILE": str(self.directory / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.directory / "credentials"),
        }

    def session(self) -> boto3.Session:
        """A boto3 session reading the queue profile this object writes (refreshed credentials, the
        farm's endpoints), for the worker's own job-attachment transfers."""
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(self.directory / "config"))
        core.set_config_variable("credentials_file", str(self.directory / "credentials"))
        core.set_config_variable("profile", self.profile)
        return boto3.Session(botocore_session=core, region_name=self.region)

    def fetch(self) -> bool:
        """AssumeQueueRoleForWorker; False when the queue has no role (an answer without credentials)."""
        answer = call_with_retry(
            "AssumeQueueRoleForWorker",
            lambda: self.deadline.assume_queue_role_for_worker(
                farmId=self.config.farm_id,
                fleetId=self.config.fleet_id,
                workerId=self.worker_id,
                queueId=self.queue_id,
            ),
            stop=self._stop,
        )
        creds = answer.get("credentials")
        if not creds:
            self.available = False
            return False
        expiration: dt.datetime = creds["expiration"]
        self._write(
            {
                "Version": 1,
                "AccessKeyId": creds["accessKeyId"],
                "SecretAccessKey": creds["secretAccessKey"],
                "SessionToken": creds["sessionToken"],
                "Expiration": expiration.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        self.expiration = expiration
        self.available = True
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._refresh_loop, name=f"queue-creds-{self.queue_id}", daemon=True
            )
            self._thread.start()
        return True

    def close(self) -> None:
        self._stop.set()

    def _refresh_loop(self) -> None:
        while True:
            expiration = self.expiration or dt.datetime.now(dt.UTC)
            wait = (expiration - QUEUE_REFRESH_BEFORE - dt.datetime.now(dt.UTC)).total_seconds()
            if self._stop.wait(max(wait, 1.0)):
                return
            try:
                self.fetch()
            except Exception as error:
                log.warning("refreshing queue %s credentials failed: %s", self.queue_id, error)
                if self._stop.wait(QUEUE_RETRY_SECONDS):
                    return

    def _write(self, latest: dict[str, Any]) -> None:
        make_private_dir(self.directory)
        creds_file = self.directory / "aws_credentials.json"
        write_private_text(creds_file, json.dumps(latest))
        script = self.directory / "get_aws_credentials.sh"
        write_private_text(script, f"#!/bin/sh\nexec cat '{creds_file}'\n", executable=True)
        config_lines = [
            f"[profile {self.profile}]",
            f"credential_process = {script}",
            f"region = {self.region}",
        ]
        if self.ca_bundle:
            config_lines.append(f"ca_bundle = {self.ca_bundle}")
        services = self._endpoint_lines()
        if services:
            config_lines.append(f"services = {self.profile}")
            if not self.deadline.meta.config.inject_host_prefix:
                config_lines.append("disable_host_prefix_injection = true")
            config_lines += ["", f"[services {self.profile}]", *services]
        write_private_text(self.directory / "config", "\n".join(config_lines) + "\n")
        write_private_text(
            self.directory / "credentials", f"[{self.profile}]\ncredential_process = {script}\n"
        )

    def _endpoint_lines(self) -> list[str]:
        """The farm's endpoints for the services jobs use (those that are not AWS's own)."""
        lines: list[str] = []
        for service, endpoint in sorted(self.endpoints.items()):
            if ".amazonaws.com" not in endpoint:
                lines += [f"{service} =", f"  endpoint_url = {endpoint}"]
        return lines


def profile_ca_bundle(config: WorkerConfig) -> str | None:
    """The CA bundle the worker's profile (or AWS_CA_BUNDLE) names, for the queue profiles it writes."""
    value = botocore.session.Session(profile=config.profile).get_config_variable("ca_bundle")
    return str(value) if value else None


def service_endpoints(session: boto3.Session) -> dict[str, str]:
    """Where this worker's clients go, by `services` section key: what job processes should use too."""
    names = {"deadline": "deadline", "cloudwatch_logs": "logs", "s3": "s3", "sts": "sts"}
    return {key: str(session.client(name).meta.endpoint_url) for key, name in names.items()}  # type: ignore[call-overload]
