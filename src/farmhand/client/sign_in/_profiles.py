"""Sign-in profiles: AWS profiles whose credentials come from signing in to a farmhand farm.

The profile's `credential_process` runs `farmhand-monitor credentials --profile NAME`, which turns
the stored refresh token into temporary credentials; `monitor_id`, `user_id` and
`identity_store_id` are the keys the AWS client reads from Deadline Cloud monitor profiles, so both
clients treat it as one (DEADLINE_CLOUD_MONITOR_LOGIN, principalId filters, `deadline auth login`).
The deadline config's `deadline-cloud-monitor.path` names the same executable, which is what
`deadline auth login/logout` (and `api.login/logout`) run.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import FarmProfile, set_profile_values, set_setting, write_farm_profile
from ..exceptions import DeadlineOperationError

__all__ = [
    "DEFAULT_REGION",
    "MONITOR_EXECUTABLE",
    "SignInProfile",
    "add_admin_profile",
    "add_sign_in_profile",
    "monitor_executable",
    "read_sign_in_profile",
    "record_signed_in_identity",
]

MONITOR_EXECUTABLE = "farmhand-monitor"
DEFAULT_REGION = "us-west-2"
URL_KEY = "farmhand_url"
USER_KEY = "farmhand_user"


@dataclass(frozen=True)
class SignInProfile:
    name: str
    url: str
    user_name: str | None
    ca_bundle: str | None
    region: str


def monitor_executable() -> str:
    """The installed `farmhand-monitor` (next to this Python first, else on PATH)."""
    beside = Path(sys.executable).with_name(MONITOR_EXECUTABLE)
    if beside.exists():
        return str(beside)
    found = shutil.which(MONITOR_EXECUTABLE)
    if found is None:
        raise DeadlineOperationError(f"{MONITOR_EXECUTABLE} is not installed (reinstall farmhand)")
    return found


def add_sign_in_profile(
    name: str,
    url: str,
    user_name: str | None,
    *,
    ca_bundle: str | None = None,
    region: str = DEFAULT_REGION,
) -> Path:
    """Write the sign-in profile and point `deadline-cloud-monitor.path` at farmhand-monitor."""
    monitor = monitor_executable()
    settings = [
        ("credential_process", f"{shlex.quote(monitor)} credentials --profile {shlex.quote(name)}"),
        ("monitor_id", f"monitor-{secrets.token_hex(16)}"),
        (URL_KEY, url.rstrip("/")),
    ]
    if user_name:
        settings.append((USER_KEY, user_name))
    config_path, _ = write_farm_profile(
        FarmProfile(
            name=name,
            endpoint_url=url.rstrip("/"),
            region=region,
            ca_bundle=ca_bundle,
            settings=tuple(settings),
        )
    )
    set_setting("deadline-cloud-monitor.path", monitor)
    return config_path


def add_admin_profile(
    name: str,
    url: str,
    access_key_id: str,
    secret_access_key: str,
    *,
    ca_bundle: str | None = None,
    region: str = DEFAULT_REGION,
) -> Path:
    """A profile that signs with the farm admin's keys (kept in the 0600 credentials file)."""
    config_path, _ = write_farm_profile(
        FarmProfile(
            name=name,
            endpoint_url=url.rstrip("/"),
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=region,
            ca_bundle=ca_bundle,
        )
    )
    return config_path


def read_sign_in_profile(name: str) -> SignInProfile:
    """The sign-in settings of a profile `farmhand profile add` wrote."""
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    session = botocore.session.Session(profile=name)
    try:
        scoped = session.get_scoped_config()
    except ProfileNotFound as error:
        raise DeadlineOperationError(f"The AWS profile '{name}' does not exist") from error
    url = scoped.get(URL_KEY)
    if not url:
        raise DeadlineOperationError(
            f"The AWS profile '{name}' is not a farmhand sign-in profile "
            f"(create one with `farmhand profile add {name} --url URL --user USER`)"
        )
    return SignInProfile(
        name=name,
        url=str(url),
        user_name=scoped.get(USER_KEY) or None,
        ca_bundle=scoped.get("ca_bundle") or None,
        region=scoped.get("region") or DEFAULT_REGION,
    )


def record_signed_in_identity(name: str, user_name: str, principal_id: str, identity_store_id: str) -> None:
    """Who signed in, where the AWS client looks for it (`user_id`, `identity_store_id`)."""
    set_profile_values(
        name, {USER_KEY: user_name, "user_id": principal_id, "identity_store_id": identity_store_id}
    )
