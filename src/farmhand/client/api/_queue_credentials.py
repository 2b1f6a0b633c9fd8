"""Queue-role credentials: the raw assume calls and a refreshing boto3 session acting as the queue role."""

from __future__ import annotations

import threading
from configparser import ConfigParser
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import ClientError

from ..config import get_setting
from ..exceptions import DeadlineOperationError
from ._session import (
    _apply_proxy_settings,
    _cache_clear_hooks,
    get_boto3_client,
    get_boto3_session,
    get_profile_name,
    resolve_region,
)
from ._telemetry import record_function_latency_telemetry_event

__all__ = [
    "assume_queue_role_for_read",
    "assume_queue_role_for_user",
    "get_queue_user_boto3_session",
    "precache_clients",
]

# Keyed by object ids; the value keeps the keyed objects alive so an id is never reused meanwhile.
_queue_sessions: dict[tuple[Any, ...], tuple[Any, boto3.Session, boto3.Session]] = {}
_queue_sessions_lock = threading.Lock()
_cache_clear_hooks.append(_queue_sessions.clear)


@record_function_latency_telemetry_event()
def assume_queue_role_for_user(
    farmId: str, queueId: str, *, config: ConfigParser | None = None
) -> dict[str, Any]:
    """The raw AssumeQueueRoleForUser response (credentials to submit and read job attachments)."""
    client = get_boto3_client("deadline", config)
    return dict(client.assume_queue_role_for_user(farmId=farmId, queueId=queueId))


@record_function_latency_telemetry_event()
def assume_queue_role_for_read(
    farmId: str, queueId: str, *, config: ConfigParser | None = None
) -> dict[str, Any]:
    """The raw AssumeQueueRoleForRead response (read-only credentials, e.g. for logs)."""
    client = get_boto3_client("deadline", config)
    return dict(client.assume_queue_role_for_read(farmId=farmId, queueId=queueId))


class _QueueRoleCredentialProvider(CredentialProvider):  # type: ignore[misc,unused-ignore]  # typed by newer stubs
    """Credentials from AssumeQueueRoleForUser, fetched lazily and refreshed before they expire."""

    METHOD = "queue-role"
    CANONICAL_NAME = "QueueRole"

    def __init__(self, deadline: Any, farm_id: str, queue_id: str, queue_label: str) -> None:
        super().__init__()
        self._deadline = deadline
        self._farm_id = farm_id
        self._queue_id = queue_id
        self._queue_label = queue_label

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(
            metadata=self._fetch(), refresh_using=self._fetch, method=self.METHOD
        )

    def _fetch(self) -> dict[str, str]:
        label = self._queue_label
        try:
            response = self._deadline.assume_queue_role_for_user(farmId=self._farm_id, queueId=self._queue_id)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ThrottlingException":
                raise DeadlineOperationError(
                    f"Throttled while attempting to assume Queue role for user on Queue '{label}': {error}. "
                    "Please retry later."
                ) from error
            if code == "InternalServerException":
                raise DeadlineOperationError(
                    f"An internal server error occurred while attempting to assume Queue role for user on "
                    f"Queue '{label}': {error}"
                ) from error
            raise DeadlineOperationError(
                f"Failed to assume Queue role for user on Queue '{label}': {error}. "
                "Please contact your administrator if the problem persists."
            ) from error
        credentials = response.get("credentials") or {}
        if not credentials.get("accessKeyId"):
            raise DeadlineOperationError(
                f"Failed to get credentials for '{label}': Empty credentials received."
            )
        expiration = credentials["expiration"]
        return {
            "access_key": credentials["accessKeyId"],
            "secret_key": credentials["secretAccessKey"],
            "token": credentials["sessionToken"],
            "expiry_time": expiration.isoformat() if isinstance(expiration, datetime) else str(expiration),
        }


def get_queue_user_boto3_session(
    deadline: Any,
    config: ConfigParser | None = None,
    farm_id: str | None = None,
    queue_id: str | None = None,
    queue_display_name: str | None = None,
    force_refresh: bool = False,
) -> boto3.Session:
    """A session acting as the queue role for users; same profile, so the same endpoint overrides.

    Missing farm/queue ids come from `config` (the caller's), not silently from the file on disk.
    """
    base_session = get_boto3_session(force_refresh=force_refresh, config=config)
    farm_id = farm_id or get_setting("defaults.farm_id", config)
    queue_id = queue_id or get_setting("defaults.queue_id", config)
    if not farm_id or not queue_id:
        raise DeadlineOperationError("A farm id and a queue id are needed for queue-role credentials.")
    region = resolve_region(config, farm_id=farm_id) or base_session.region_name
    key = (id(deadline), id(base_session), farm_id, queue_id, queue_display_name, region)
    with _queue_sessions_lock:
        cached = _queue_sessions.get(key)
    if cached is not None and cached[0] is deadline and cached[1] is base_session:
        return cached[2]
    botocore_session = botocore.session.get_session()
    # The profile's session has loaded the service models and endpoint data already: share its
    # loader (and what it cached) rather than read and decode those files again.
    botocore_session.register_component("data_loader", base_session._session.get_component("data_loader"))
    profile = get_profile_name(config)
    if profile:
        botocore_session.set_config_variable("profile", profile)
    provider = _QueueRoleCredentialProvider(deadline, farm_id, queue_id, queue_display_name or queue_id)
    resolver = botocore_session.get_component("credential_provider")
    # First in the chain: ahead of env vars, and of the profile's own keys when a profile is named.
    resolver.insert_before(resolver.providers[0].METHOD, provider)
    session = boto3.Session(botocore_session=botocore_session, region_name=region)
    _apply_proxy_settings(session, config)
    with _queue_sessions_lock:
        _queue_sessions[key] = (deadline, base_session, session)
    return session


def precache_clients(
    deadline: Any = None,
    config: ConfigParser | None = None,
    farm_id: str | None = None,
    queue_id: str | None = None,
    queue_display_name: str | None = None,
) -> tuple[Any, Any]:
    """Build the deadline client and the queue-role S3 client up front; `(deadline, s3)`."""
    if deadline is None:
        deadline = get_boto3_client("deadline", config)
    farm_id = farm_id or get_setting("defaults.farm_id", config)
    queue_id = queue_id or get_setting("defaults.queue_id", config)
    if queue_display_name is None:
        queue_display_name = deadline.get_queue(farmId=farm_id, queueId=queue_id)["displayName"]
    queue_session = get_queue_user_boto3_session(deadline, config, farm_id, queue_id, queue_display_name)
    pool_size = int(get_setting("settings.s3_max_pool_connections", config))
    from botocore.config import Config

    s3 = queue_session.client(
        "s3",
        config=Config(
            signature_version="s3v4",
            connect_timeout=30,
            read_timeout=30,
            retries={"mode": "standard"},
            max_pool_connections=pool_size,
        ),
    )
    # Creating the client does not fetch credentials; ask for them so the assume call happens now.
    queue_session.get_credentials()
    return deadline, s3
