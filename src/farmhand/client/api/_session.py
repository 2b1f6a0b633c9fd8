"""boto3 sessions and clients chosen by the workstation config, and the credential/auth probes.

A `config` passed in is honoured all the way down: the profile, the farm region and every setting
are read from it, never from the file on disk behind the caller's back.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from configparser import ConfigParser
from contextlib import contextmanager
from enum import Enum
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from ... import __version__
from ..config import get_setting, read_config, set_setting
from ._agent_detection import detect_invoking_agent

__all__ = [
    "AwsAuthenticationStatus",
    "AwsCredentialsSource",
    "check_authentication_status",
    "check_deadline_api_available",
    "clear_session_caches",
    "get_account_id",
    "get_boto3_client",
    "get_boto3_session",
    "get_credentials_source",
    "get_profile_name",
    "get_session_client",
    "get_user_and_identity_store_id",
    "resolve_region",
    "session_context",
    "user_agent_extra",
]

log = logging.getLogger(__name__)

# Feeds the user agent: submitters set their name/version, the CLI its dotted command path.
session_context: dict[str, str] = {}

# Environment variables that change what a profile name means; part of the session cache key.
_PROFILE_ENVIRONMENT = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE")
_DCM_ADVISORY_REFRESH_SECONDS = 5 * 60
_DCM_MANDATORY_REFRESH_SECONDS = 150


class AwsCredentialsSource(Enum):
    NOT_VALID = 0
    HOST_PROVIDED = 2
    DEADLINE_CLOUD_MONITOR_LOGIN = 3
    AWS_CONSOLE_LOGIN = 4


class AwsAuthenticationStatus(Enum):
    CONFIGURATION_ERROR = 1
    AUTHENTICATED = 2
    NEEDS_LOGIN = 3
    MISSING_DEPENDENCY = 4


_lock = threading.RLock()
_sessions: dict[tuple[Any, ...], boto3.Session] = {}
# Keyed by object ids; the value keeps the session and Config alive so their ids stay theirs.
_clients: dict[tuple[Any, ...], tuple[boto3.Session, Config | None, Any]] = {}
_account_ids: dict[int, tuple[boto3.Session, str | None]] = {}
# The (https_proxy, ca_bundle) each cached session was set up with: the first config wins.
_proxy_applied: dict[int, tuple[str, str]] = {}
# Called when the session caches are cleared (the queue-role session cache registers here).
_cache_clear_hooks: list[Any] = []


def clear_session_caches() -> None:
    """Forget every cached session, client, account id and queue-role session."""
    with _lock:
        _sessions.clear()
        _clients.clear()
        _account_ids.clear()
        _proxy_applied.clear()
    for hook in _cache_clear_hooks:
        hook()


def get_profile_name(config: ConfigParser | None = None) -> str | None:
    """The AWS profile named by the config; `(default)`, `default` and "" mean the default chain."""
    name = get_setting("defaults.aws_profile_name", config)
    return None if name in ("(default)", "default", "") else name


def resolve_region(
    config: ConfigParser | None = None, region: str | None = None, farm_id: str | None = None
) -> str | None:
    """Explicit region, else the configured region of the farm (the default farm), else None."""
    if region:
        return region
    if farm_id is not None and farm_id != get_setting("defaults.farm_id", config):
        scoped = _copy_config(config) if config is not None else read_config()
        set_setting("defaults.farm_id", farm_id, scoped)
        return get_setting("defaults.farm_region", scoped) or None
    return get_setting("defaults.farm_region", config) or None


def _copy_config(config: ConfigParser) -> ConfigParser:
    duplicate = ConfigParser()
    duplicate.read_dict({section: dict(config.items(section, raw=True)) for section in config.sections()})
    return duplicate


def user_agent_extra() -> str:
    """`app/farmhand-client#<ver>` plus the submitter, CLI command and invoking agent when known."""
    parts = [f"app/farmhand-client#{__version__}"]
    if submitter := session_context.get("submitter-name"):
        version = session_context.get("submitter-version")
        parts.append(f"submitter/{submitter}" + (f"#{version}" if version else ""))
    if command := session_context.get("cli-command-name"):
        parts.append(f"cli-command/{command}")
    if agent := detect_invoking_agent():
        parts.append(f"invoked-by/{agent}")
    return " ".join(parts)


def get_boto3_session(
    force_refresh: bool = False, config: ConfigParser | None = None, region: str | None = None
) -> boto3.Session:
    """The (cached) session of the configured profile; `force_refresh` drops every cached session."""
    if force_refresh:
        clear_session_caches()
    profile = get_profile_name(config)
    key = (profile, region, *(os.environ.get(name) for name in _PROFILE_ENVIRONMENT))
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = boto3.Session(profile_name=profile, region_name=region)
            _relax_monitor_refresh_windows(session)
            _sessions[key] = session
    _apply_proxy_settings(session, config)
    return session


def _relax_monitor_refresh_windows(session: boto3.Session) -> None:
    """Deadline Cloud monitor hands out 15-minute credentials: refresh them late, not after 1 minute."""
    try:
        credentials = session._session.get_credentials()
        if credentials is not None and getattr(credentials, "method", "") == "custom-process":
            setattr(credentials, "_advisory_refresh_timeout", _DCM_ADVISORY_REFRESH_SECONDS)  # noqa: B010
            setattr(credentials, "_mandatory_refresh_timeout", _DCM_MANDATORY_REFRESH_SECONDS)  # noqa: B010
    except Exception:
        log.debug("could not adjust credential refresh windows", exc_info=True)


def _apply_proxy_settings(session: boto3.Session, config: ConfigParser | None) -> None:
    """`settings.https_proxy` and `settings.ca_bundle`; the first config to touch a session wins."""
    proxy = get_setting("settings.https_proxy", config).strip()
    ca_bundle = os.path.expanduser(get_setting("settings.ca_bundle", config).strip())
    with _lock:
        applied = _proxy_applied.get(id(session))
        if applied is not None:
            if applied != (proxy, ca_bundle):
                changed = "https_proxy" if applied[0] != proxy else "ca_bundle"
                log.warning(
                    "settings.%s differs from the one this session was created with; ignored", changed
                )
            return
        _proxy_applied[id(session)] = (proxy, ca_bundle)
    if proxy:
        proxy_config = Config(proxies={"http": proxy, "https": proxy})
        existing = session._session.get_default_client_config()
        session._session.set_default_client_config(existing.merge(proxy_config) if existing else proxy_config)
    if ca_bundle:
        session._session.set_config_variable("ca_bundle", ca_bundle)


def get_session_client(
    session: boto3.Session, service_name: str, region: str | None = None, client_config: Config | None = None
) -> Any:
    """A cached client with the farmhand user agent; a farm region rewrites a region-bearing endpoint."""
    key = (
        id(session),
        service_name,
        region,
        id(client_config) if client_config else None,
        user_agent_extra(),
    )
    with _lock:
        cached = _clients.get(key)
        if cached is not None and cached[0] is session and cached[1] is client_config:
            return cached[2]
    config = Config(user_agent_extra=user_agent_extra())
    if client_config is not None:
        config = config.merge(client_config)
    if region:
        client: BaseClient = session.client(service_name, region_name=region, config=config)  # type: ignore[call-overload]
        endpoint = client.meta.endpoint_url
        session_region = session.region_name
        if (
            session_region
            and session_region != region
            and region not in endpoint
            and session_region in endpoint
        ):
            client = session.client(  # type: ignore[call-overload]
                service_name,
                region_name=region,
                endpoint_url=endpoint.replace(session_region, region),
                config=config,
            )
    else:
        client = session.client(service_name, config=config)  # type: ignore[call-overload]
    with _lock:
        _clients[key] = (session, client_config, client)
    return client


def get_boto3_client(service_name: str, config: ConfigParser | None = None, region: str | None = None) -> Any:
    """A client of the configured profile, in the default farm's region unless `region` is given."""
    session = get_boto3_session(config=config)
    return get_session_client(session, service_name, resolve_region(config, region))


def _scoped_profile_config(config: ConfigParser | None) -> dict[str, Any]:
    session = get_boto3_session(config=config)
    return dict(session._session.get_scoped_config())


def get_credentials_source(config: ConfigParser | None = None) -> AwsCredentialsSource:
    """Where the profile's credentials come from, read from `~/.aws/config`; no AWS call."""
    try:
        profile = _scoped_profile_config(config)
    except ProfileNotFound:
        return AwsCredentialsSource.NOT_VALID
    if "monitor_id" in profile:
        return AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN
    if "login_session" in profile:
        return AwsCredentialsSource.AWS_CONSOLE_LOGIN
    return AwsCredentialsSource.HOST_PROVIDED


def get_user_and_identity_store_id(config: ConfigParser | None = None) -> tuple[str | None, str | None]:
    """`(user_id, identity_store_id)` of a Deadline Cloud monitor profile, else `(None, None)`."""
    try:
        profile = _scoped_profile_config(config)
    except ProfileNotFound:
        return None, None
    if "monitor_id" not in profile:
        return None, None
    return profile.get("user_id"), profile.get("identity_store_id")


@contextmanager
def _quiet_credential_logging() -> Iterator[None]:
    logger = logging.getLogger("botocore.credentials")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def check_authentication_status(config: ConfigParser | None = None) -> AwsAuthenticationStatus:
    """Probe the credentials with `sts:GetCallerIdentity` and classify the outcome."""
    from botocore.exceptions import MissingDependencyException

    try:
        with _quiet_credential_logging():
            get_boto3_client("sts", config).get_caller_identity()
        return AwsAuthenticationStatus.AUTHENTICATED
    except MissingDependencyException:
        log.error('Credentials need the AWS CRT: pip install "botocore[crt]"')
        return AwsAuthenticationStatus.MISSING_DEPENDENCY
    except Exception:
        source = get_credentials_source(config)
        if source in (
            AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN,
            AwsCredentialsSource.AWS_CONSOLE_LOGIN,
        ):
            return AwsAuthenticationStatus.NEEDS_LOGIN
        return AwsAuthenticationStatus.CONFIGURATION_ERROR


def check_deadline_api_available(config: ConfigParser | None = None) -> bool:
    """Deprecated: whether `check_authentication_status` says AUTHENTICATED."""
    import warnings

    warnings.warn(
        "check_deadline_api_available is deprecated; use check_authentication_status",
        DeprecationWarning,
        stacklevel=2,
    )
    return check_authentication_status(config) == AwsAuthenticationStatus.AUTHENTICATED


def get_account_id(boto3_session: boto3.Session) -> str | None:
    """The account of the session's credentials (cached per session); None when it cannot be found."""
    with _lock:
        cached = _account_ids.get(id(boto3_session))
        if cached is not None and cached[0] is boto3_session:
            return cached[1]
    account_id: str | None = None
    try:
        credentials = boto3_session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        account_id = getattr(frozen, "account_id", None) or None
        if account_id is None:
            sts = boto3_session.client(
                "sts",
                config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 2}),
            )
            account_id = str(sts.get_caller_identity()["Account"])
    except Exception:
        log.debug("could not resolve the account id", exc_info=True)
        account_id = None
    with _lock:
        _account_ids[id(boto3_session)] = (boto3_session, account_id)
    return account_id
