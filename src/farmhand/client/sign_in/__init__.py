"""Signing in to a farmhand farm: sign-in profiles, refresh tokens, login/logout, credential_process.

A sign-in profile is an ordinary AWS profile whose `credential_process` runs `farmhand-monitor`
(see `_monitor`), so boto3, both CLIs and the worker agent use it like any other profile.
"""

from ._clients import identity_client, unsigned_identity_client
from ._flows import (
    REUSE_MARGIN,
    DeviceCode,
    SignInError,
    process_credentials,
    sign_in_with_device,
    sign_in_with_password,
    sign_out,
)
from ._monitor import device_code_lines, open_in_browser
from ._profiles import (
    MONITOR_EXECUTABLE,
    SignInProfile,
    add_admin_profile,
    add_sign_in_profile,
    monitor_executable,
    read_sign_in_profile,
)
from ._token_store import StoredSignIn, read_sign_in, sign_in_dir

__all__ = [
    "MONITOR_EXECUTABLE",
    "REUSE_MARGIN",
    "DeviceCode",
    "SignInError",
    "SignInProfile",
    "StoredSignIn",
    "add_admin_profile",
    "add_sign_in_profile",
    "device_code_lines",
    "identity_client",
    "monitor_executable",
    "open_in_browser",
    "process_credentials",
    "read_sign_in",
    "read_sign_in_profile",
    "sign_in_dir",
    "sign_in_with_device",
    "sign_in_with_password",
    "sign_out",
    "unsigned_identity_client",
]
