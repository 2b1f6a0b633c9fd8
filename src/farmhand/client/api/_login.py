"""`login` and `logout` with the semantics of `deadline.client.api`: both run the monitor executable.

`deadline-cloud-monitor.path` names it (farmhand writes `farmhand-monitor` there when it adds a
sign-in profile; Deadline Cloud monitor writes itself). Login starts `<path> login --profile P`
and polls the authentication status every half second until the profile authenticates, the
caller cancels or the monitor fails; logout runs `<path> logout --profile P` and returns what it
printed.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from configparser import ConfigParser
from typing import Any

from ..config import get_setting
from ..exceptions import DeadlineOperationError
from ._session import (
    AwsAuthenticationStatus,
    AwsCredentialsSource,
    check_authentication_status,
    clear_session_caches,
    get_boto3_session,
    get_credentials_source,
    get_profile_name,
)
from ._telemetry import record_function_latency_telemetry_event

__all__ = ["LoginCanceled", "UnsupportedProfileTypeForLoginLogout", "login", "logout"]

POLL_SECONDS = 0.5
# How long a finished login waits for the monitor to exit before stopping it.
MONITOR_EXIT_GRACE_SECONDS = 5.0
_CODE_URL = re.compile(r"open (https?://\S+)")
_USER_CODE = re.compile(r"the code ([A-Z0-9]{4}-[A-Z0-9]{4})")


class UnsupportedProfileTypeForLoginLogout(DeadlineOperationError):
    """Login and logout work only for monitor (sign-in) and AWS Console sign-in profiles."""


class LoginCanceled(DeadlineOperationError):
    """The caller's cancellation check stopped the login."""

    def __init__(self, message: str = "Login canceled.") -> None:
        super().__init__(message)


def _profile_label(source: AwsCredentialsSource, profile: str) -> str:
    if source == AwsCredentialsSource.AWS_CONSOLE_LOGIN:
        return f"AWS Console sign-in profile: {profile}"
    return f"Deadline Cloud monitor profile: {profile}"


def _login_source(config: ConfigParser | None, action: str) -> AwsCredentialsSource:
    source = get_credentials_source(config)
    if source not in (
        AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN,
        AwsCredentialsSource.AWS_CONSOLE_LOGIN,
    ):
        raise UnsupportedProfileTypeForLoginLogout(
            f"{action} is only supported for AWS Profiles created by Deadline Cloud monitor or by AWS "
            "Console sign-in."
        )
    return source


def _monitor_path(config: ConfigParser | None, profile: str, source: AwsCredentialsSource) -> str:
    path = get_setting("deadline-cloud-monitor.path", config)
    if not path and source == AwsCredentialsSource.AWS_CONSOLE_LOGIN:
        raise DeadlineOperationError(
            f"No sign-in program is configured for the AWS Console sign-in profile {profile}: "
            f"sign in with `aws login --profile {profile}`."
        )
    if not path or not os.path.isfile(path):
        raise DeadlineOperationError(
            f"Could not find Deadline Cloud monitor at {path or '(deadline-cloud-monitor.path is not set)'}. "
            "Add a sign-in profile with `farmhand profile add NAME --url URL --user USER`."
        )
    return path


def _notify_pending(
    callback: Callable[..., Any], source: AwsCredentialsSource, details: dict[str, str]
) -> None:
    """Call with `credentials_source`, plus the device code's address and code when it takes them."""
    try:
        parameters = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    extra = {k: v for k, v in details.items() if takes_any or k in parameters}
    callback(credentials_source=source, **extra)


class _MonitorOutput:
    """The monitor's stdout, read on a thread (its device code lines, or an error to report)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self.code_shown = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))
            if _USER_CODE.search(raw.decode("utf-8", "replace")):
                self.code_shown.set()
        self.code_shown.set()

    def details(self) -> dict[str, str]:
        text = "".join(self.lines)
        found: dict[str, str] = {}
        if url := _CODE_URL.search(text):
            found["verification_uri"] = url.group(1)
        if code := _USER_CODE.search(text):
            found["user_code"] = code.group(1)
        return found

    def text(self) -> str:
        self._thread.join(timeout=2)
        return "".join(self.lines)


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@record_function_latency_telemetry_event(
    details_provider=lambda config=None: {"credentials_source": get_credentials_source(config).name}
)
def login(
    on_pending_authorization: Callable[..., Any],
    on_cancellation_check: Callable[[], bool] | None,
    config: ConfigParser | None = None,
    from_gui: bool = False,
) -> str:
    """Sign the configured profile in through the monitor executable; the profile label when done.

    `on_pending_authorization(credentials_source=...)` is called once the monitor runs (with
    `verification_uri` and `user_code` too when it accepts them and the monitor showed a code);
    `on_cancellation_check()` (if given) is polled and ends the login with LoginCanceled when it
    says True.
    """
    profile = get_profile_name(config) or "default"
    source = _login_source(config, "Logging in")
    monitor = _monitor_path(config, profile, source)
    process = subprocess.Popen(
        [monitor, "login", "--profile", profile],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    output = _MonitorOutput(process)
    try:
        output.code_shown.wait(timeout=10)
        _notify_pending(on_pending_authorization, source, output.details())
        while True:
            if on_cancellation_check is not None and on_cancellation_check():
                process.kill()
                process.wait()
                raise LoginCanceled()
            get_boto3_session(force_refresh=True, config=config)
            status = check_authentication_status(config)
            if status == AwsAuthenticationStatus.AUTHENTICATED:
                _stop(process, MONITOR_EXIT_GRACE_SECONDS)
                clear_session_caches()  # later sessions read the user the monitor recorded
                return _profile_label(source, profile)
            if status == AwsAuthenticationStatus.MISSING_DEPENDENCY:
                raise DeadlineOperationError(
                    'Signing in needs the AWS CRT, which is missing: pip install "botocore[crt]"'
                )
            code = process.poll()
            if code is not None and code != 0:
                raise DeadlineOperationError(
                    f"Login failed ({monitor} exited with {code}): {output.text().strip()}"
                )
            time.sleep(POLL_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@record_function_latency_telemetry_event()
def logout(config: ConfigParser | None = None, from_gui: bool = False) -> str:
    """Sign the configured profile out through the monitor executable; what the monitor printed."""
    profile = get_profile_name(config) or "default"
    source = _login_source(config, "Logging out")
    if source == AwsCredentialsSource.AWS_CONSOLE_LOGIN:
        _forget_console_sign_in(config)
        path = get_setting("deadline-cloud-monitor.path", config)
        if path and os.path.isfile(path):
            subprocess.run([path, "logout", "--profile", profile], capture_output=True, check=False)
        clear_session_caches()
        return f"Successfully logged out of AWS Console sign-in profile: {profile}"
    monitor = _monitor_path(config, profile, source)
    finished = subprocess.run([monitor, "logout", "--profile", profile], capture_output=True, check=False)
    clear_session_caches()
    if finished.returncode != 0:
        raise DeadlineOperationError(
            f"Logout failed ({monitor} exited with {finished.returncode}): "
            f"{finished.stdout.decode('utf-8', 'replace').strip()}"
        )
    return finished.stdout.decode("utf-8", "replace")


def _forget_console_sign_in(config: ConfigParser | None) -> None:
    """Delete botocore's cached token of an AWS Console sign-in profile (missing is fine)."""
    from botocore.utils import generate_login_cache_key, get_login_token_cache_directory

    session = get_boto3_session(config=config)
    login_session = session._session.get_scoped_config().get("login_session")
    if not login_session:
        return
    path = os.path.join(get_login_token_cache_directory(), f"{generate_login_cache_key(login_session)}.json")
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
