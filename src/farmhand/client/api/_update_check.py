"""`safe_check_for_updates`: is a newer release of a Deadline Cloud integration published?

The submitters' manifest lists, per platform, the latest version of each integration and where its
installer is. The check is made for host applications' start-up paths: it never raises, and offline
it answers within a few seconds with the reason in its result.
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["MANIFEST_URL", "UpdateCheckResult", "UpdateCheckStatus", "safe_check_for_updates"]

log = logging.getLogger(__name__)

MANIFEST_URL = "https://downloads.deadlinecloud.amazonaws.com/submitters/manifest.json"
#: Seconds for the whole fetch: long enough for a slow link, short enough for a start-up path.
MANIFEST_TIMEOUT_SECONDS = 5.0


class UpdateCheckStatus(Enum):
    SUCCESS = "success"
    NETWORK_ERROR = "network_error"
    TIMEOUT_ERROR = "timeout_error"
    PARSE_ERROR = "parse_error"
    INVALID_VERSION = "invalid_version"
    INTEGRATION_NOT_FOUND = "integration_not_found"
    UNEXPECTED_ERROR = "unexpected_error"


@dataclass
class UpdateCheckResult:
    """The outcome of one check; `update_available` is False whenever the check did not succeed."""

    status: UpdateCheckStatus
    current_version: str
    update_available: bool = False
    latest_version: str | None = None
    download_url: str | None = None
    error_message: str | None = None


def _platform() -> str:
    if sys.platform == "darwin":
        return "macos"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return "linux"


def _notifications_enabled() -> bool:
    from ..config import get_setting, str2bool

    return str2bool(get_setting("settings.submitter_update_notification"))


def _fetch_manifest(url: str, timeout: float) -> Any:
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout, context=context) as answer:
        return json.loads(answer.read().decode("utf-8"))


def _newer(latest: str, current: str) -> bool:
    from packaging.version import Version

    return Version(latest) > Version(current)


def _download_url(manifest_url: str, platform_entry: dict[str, Any]) -> str | None:
    installer = platform_entry.get("installer")
    if not installer:
        return None
    return f"{manifest_url.rsplit('/', 1)[0]}/{str(installer).lstrip('/')}"


def safe_check_for_updates(integration_name: str, current_version: str) -> UpdateCheckResult:
    """Compare `current_version` with the latest `integration_name` the manifest lists for this
    platform; every failure is a status and a message in the result, never an exception."""

    def failed(status: UpdateCheckStatus, message: str, **extra: Any) -> UpdateCheckResult:
        log.debug("update check for %s: %s", integration_name, message)
        return UpdateCheckResult(status, current_version, error_message=message, **extra)

    try:
        if not _notifications_enabled():
            return UpdateCheckResult(UpdateCheckStatus.SUCCESS, current_version)
        try:
            manifest = _fetch_manifest(MANIFEST_URL, MANIFEST_TIMEOUT_SECONDS)
        except TimeoutError as error:
            return failed(UpdateCheckStatus.TIMEOUT_ERROR, f"no manifest in time: {error}")
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                return failed(UpdateCheckStatus.TIMEOUT_ERROR, f"no manifest in time: {error}")
            return failed(UpdateCheckStatus.NETWORK_ERROR, f"the manifest could not be fetched: {error}")
        except (ValueError, UnicodeDecodeError) as error:
            return failed(UpdateCheckStatus.PARSE_ERROR, f"the manifest is not JSON: {error}")
        platform = _platform()
        try:
            entry = manifest["DeadlineCloudSubmitter"]["versions"]["latest"][platform]
        except (KeyError, TypeError):
            return failed(UpdateCheckStatus.PARSE_ERROR, f"the manifest lists nothing for {platform}")
        if not isinstance(entry, dict):
            return failed(UpdateCheckStatus.PARSE_ERROR, f"the manifest's {platform} entry is no object")
        latest = (entry.get("componentVersions") or {}).get(integration_name)
        if latest is None:
            return failed(
                UpdateCheckStatus.INTEGRATION_NOT_FOUND, f"the manifest does not list {integration_name}"
            )
        from packaging.version import InvalidVersion

        try:
            newer = _newer(str(latest), current_version)
        except InvalidVersion as error:
            message = f"not a version: {error}"
            return failed(UpdateCheckStatus.INVALID_VERSION, message, latest_version=str(latest))
        download_url = _download_url(MANIFEST_URL, entry)
        return UpdateCheckResult(
            UpdateCheckStatus.SUCCESS,
            current_version,
            update_available=newer and download_url is not None,
            latest_version=str(latest),
            download_url=download_url,
        )
    except Exception as error:  # the promise: never raise into the host application
        log.warning("update check for %s failed: %s", integration_name, error)
        return UpdateCheckResult(
            UpdateCheckStatus.UNEXPECTED_ERROR, current_version, error_message=f"unexpected error: {error}"
        )
