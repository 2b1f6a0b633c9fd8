"""Signing in as a farm user: sign-in profiles, password and device-code login, credentials, logout.

A person's workstation has only what `farmhand profile add` wrote; its credentials come from the
profile's `credential_process` (farmhand-monitor), as boto3 and both CLIs use it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pty
import stat
import subprocess
import termios
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from _browser import Browser, approve
from _sign_in_station import BIN, SignInStation
from farmhand._models import add_models_to
from farmhand.client.sign_in import unsigned_identity_client
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)
PASSWORD = "correct horse battery"


def identity(server: ServerProcess) -> Any:
    session = server.boto3_session()
    add_models_to(session._session)
    return server.client("farmhand-identity", session=session)


def new_user(server: ServerProcess) -> tuple[str, str]:
    name = f"user-{uuid.uuid4().hex[:8]}"
    created = identity(server).create_user(userName=name, password=PASSWORD)
    return name, created["principalId"]


@pytest.fixture
def station(tmp_path: Path) -> SignInStation:
    return SignInStation(tmp_path / "station")


def caller_of(session: Any, server: ServerProcess) -> dict[str, Any]:
    return dict(session.client("sts").get_caller_identity())


def test_password_login_calls_and_logout(server: ServerProcess, station: SignInStation) -> None:
    user, principal_id = new_user(server)

    # Given a sign-in profile that is not signed in yet
    added = station.farmhand("profile", "add", "studio", "--url", server.url, "--user", user)
    assert added.returncode == 0, added.stderr
    config = station.aws_config.read_text()
    assert "credential_process = " in config and "monitor_id = monitor-" in config
    assert not station.aws_credentials.exists() or "[studio]" not in station.aws_credentials.read_text()
    assert "[deadline-cloud-monitor]\npath = " in station.deadline_config.read_text()
    assert station.deadline_config.read_text().split("path = ", 1)[1].split()[0].endswith("farmhand-monitor")
    before = json.loads(station.farmhand("auth", "status", "--json").stdout)
    assert (before["source"], before["status"]) == ("DEADLINE_CLOUD_MONITOR_LOGIN", "NEEDS_LOGIN")

    # When the user signs in with a password
    login = station.farmhand("login", "--profile", "studio", "--password-stdin", input=PASSWORD + "\n")

    # Then the profile authenticates as that user, with credentials of at most an hour
    assert login.returncode == 0, login.stderr
    assert f"as {user}" in login.stdout
    token_file = station.token_file("studio")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    stored = json.loads(token_file.read_text())
    expiration = dt.datetime.fromisoformat(stored["credentials"]["Expiration"])
    assert dt.timedelta(minutes=50) < expiration - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    session = station.session("studio")
    assert caller_of(session, server)["UserId"] == principal_id
    after = json.loads(station.farmhand("auth", "status", "--json").stdout)
    assert after["status"] == "AUTHENTICATED"
    with station.environment():
        from farmhand.client import api

        api.get_boto3_session(force_refresh=True)
        assert api.get_user_and_identity_store_id() == (principal_id, stored["identity_store_id"])
        assert api.get_credentials_source().name == "DEADLINE_CLOUD_MONITOR_LOGIN"

    # When the user signs out
    logout = station.farmhand("logout", "--profile", "studio")

    # Then the token is revoked at the farm, the credentials it minted stop at once, and the file is gone
    assert logout.returncode == 0, logout.stderr
    assert not token_file.exists()
    with pytest.raises(ClientError) as revoked:
        caller_of(session, server)
    assert revoked.value.response["Error"]["Code"] == "InvalidClientTokenId"  # STS names an unknown key so
    with pytest.raises(ClientError) as reused:
        unsigned_identity_client(server.url).get_sign_in_credentials(refreshToken=stored["refresh_token"])
    assert reused.value.response["Error"]["Code"] == "InvalidGrantException"
    final = json.loads(station.farmhand("auth", "status", "--json").stdout)
    assert final["status"] == "NEEDS_LOGIN"


def test_device_code_login_approved_in_the_browser(server: ServerProcess, station: SignInStation) -> None:
    user, principal_id = new_user(server)
    station.farmhand("profile", "add", "studio", "--url", server.url, "--user", user)

    # When `farmhand login` runs without a terminal: it shows a code and a person approves it
    login = station.run("farmhand", "login", "--profile", "studio", env=station.browser_env(user, PASSWORD))

    # Then the terminal is signed in as the person who approved
    assert login.returncode == 0, login.stdout + login.stderr
    assert "/signin?user_code=" in login.stderr
    assert caller_of(station.session("studio"), server)["UserId"] == principal_id


def test_credential_process_reuses_fresh_credentials_and_refreshes_old_ones(
    server: ServerProcess, station: SignInStation
) -> None:
    user, _ = new_user(server)
    station.farmhand("profile", "add", "studio", "--url", server.url, "--user", user)
    station.farmhand("login", "--profile", "studio", "--password-stdin", input=PASSWORD + "\n")
    first = json.loads(station.run("farmhand-monitor", "credentials", "--profile", "studio").stdout)

    again = json.loads(station.run("farmhand-monitor", "credentials", "--profile", "studio").stdout)
    token_file = station.token_file("studio")
    stored = json.loads(token_file.read_text())
    stored["credentials"]["Expiration"] = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    token_file.write_text(json.dumps(stored))
    refreshed = json.loads(station.run("farmhand-monitor", "credentials", "--profile", "studio").stdout)

    assert first["Version"] == 1 and again["AccessKeyId"] == first["AccessKeyId"]
    assert refreshed["AccessKeyId"] != first["AccessKeyId"]
    assert dt.datetime.fromisoformat(refreshed["Expiration"]) > dt.datetime.now(dt.UTC) + dt.timedelta(
        minutes=50
    )


def test_a_profile_that_is_not_signed_in_says_how_to_sign_in(
    server: ServerProcess, station: SignInStation
) -> None:
    station.farmhand("profile", "add", "studio", "--url", server.url, "--user", "nobody-yet")

    result = station.run("farmhand-monitor", "credentials", "--profile", "studio")

    assert result.returncode == 1
    assert "farmhand login --profile studio" in result.stderr
    assert result.stdout == ""


# --- bad input -------------------------------------------------------------------------------------


def test_wrong_passwords_are_throttled_per_user_and_address(server: ServerProcess) -> None:
    user, _ = new_user(server)
    other, _ = new_user(server)
    client = unsigned_identity_client(server.url)
    client.meta.events.register("needs-retry.*", lambda **_: None)  # count each attempt once

    codes = []
    for _ in range(10):
        with pytest.raises(ClientError) as wrong:
            client.sign_in(userName=user, password="not the password")
        codes.append(wrong.value.response["Error"]["Code"])
    with pytest.raises(ClientError) as throttled:
        client.sign_in(userName=user, password=PASSWORD)  # even the right one, for now

    assert codes == ["InvalidGrantException"] * 10
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert client.sign_in(userName=other, password=PASSWORD)["userName"] == other


def test_unknown_users_and_wrong_passwords_get_the_same_answer(server: ServerProcess) -> None:
    user, _ = new_user(server)
    client = unsigned_identity_client(server.url)

    with pytest.raises(ClientError) as wrong:
        client.sign_in(userName=user, password="not the password")
    with pytest.raises(ClientError) as unknown:
        client.sign_in(userName=f"nobody-{uuid.uuid4().hex[:6]}", password="whatever")

    assert (
        wrong.value.response["Error"]["Code"]
        == unknown.value.response["Error"]["Code"]
        == "InvalidGrantException"
    )
    assert wrong.value.response["Error"]["Message"] == unknown.value.response["Error"]["Message"]


def test_tampered_expired_and_revoked_refresh_tokens_are_refused(server: ServerProcess) -> None:
    user, _ = new_user(server)
    client = unsigned_identity_client(server.url)
    token = client.sign_in(userName=user, password=PASSWORD)["refreshToken"]
    prefix, token_id, secret = token.split(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")

    def code_for(candidate: str) -> str:
        with pytest.raises(ClientError) as refused:
            client.get_sign_in_credentials(refreshToken=candidate)
        return str(refused.value.response["Error"]["Code"])

    assert code_for(f"{prefix}.{token_id}.{flipped}") == "InvalidGrantException"
    assert code_for(f"{prefix}.{'0' * 32}.{secret}") == "InvalidGrantException"
    assert code_for("not a token") == "InvalidGrantException"
    assert client.get_sign_in_credentials(refreshToken=token)["principalId"]  # the real one still works

    _expire_refresh_token(server, token_id)
    assert code_for(token) == "ExpiredTokenException"

    fresh = client.sign_in(userName=user, password=PASSWORD)["refreshToken"]
    client.sign_out(refreshToken=fresh)
    client.sign_out(refreshToken=fresh)  # signing out twice is fine
    assert code_for(fresh) == "InvalidGrantException"


def _expire_refresh_token(server: ServerProcess, token_id: str) -> None:
    """Thirty days pass for one token (its expiry moved into the past in the store)."""
    import sqlite3

    with sqlite3.connect(server.data_dir / "farmhand.db") as conn:
        conn.execute("UPDATE refresh_tokens SET expires_at = 0 WHERE token_id = ?", (token_id,))


def test_disabled_and_removed_users_lose_their_sign_ins_at_once(server: ServerProcess) -> None:
    admin = identity(server)
    client = unsigned_identity_client(server.url)
    import boto3

    def signed_in(name: str) -> tuple[str, Any]:
        token = client.sign_in(userName=name, password=PASSWORD)["refreshToken"]
        creds = client.get_sign_in_credentials(refreshToken=token)["credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["accessKeyId"],
            aws_secret_access_key=creds["secretAccessKey"],
            aws_session_token=creds["sessionToken"],
            region_name="us-west-2",
        )
        return token, server.client("sts", session=session)

    disabled, _ = new_user(server)
    token, sts = signed_in(disabled)
    admin.update_user(userName=disabled, status="DISABLED")
    with pytest.raises(ClientError) as stopped:
        sts.get_caller_identity()
    assert stopped.value.response["Error"]["Code"] == "InvalidClientTokenId"  # STS names an unknown key so
    with pytest.raises(ClientError) as no_refresh:
        client.get_sign_in_credentials(refreshToken=token)
    assert no_refresh.value.response["Error"]["Code"] == "InvalidGrantException"
    with pytest.raises(ClientError) as no_sign_in:
        client.sign_in(userName=disabled, password=PASSWORD)
    assert no_sign_in.value.response["Error"]["Code"] == "AccessDeniedException"

    removed, _ = new_user(server)
    token, sts = signed_in(removed)
    admin.delete_user(userName=removed)
    with pytest.raises(ClientError) as gone:
        sts.get_caller_identity()
    assert gone.value.response["Error"]["Code"] == "InvalidClientTokenId"  # STS names an unknown key so
    with pytest.raises(ClientError) as no_more:
        client.get_sign_in_credentials(refreshToken=token)
    assert no_more.value.response["Error"]["Code"] == "InvalidGrantException"


def test_device_codes_refuse_early_fast_denied_and_reused_polls(server: ServerProcess) -> None:
    user, _ = new_user(server)
    client = unsigned_identity_client(server.url)
    client.meta.events.register("needs-retry.*", lambda **_: None)

    def poll_code(device_code: str) -> str:
        with pytest.raises(ClientError) as answer:
            client.create_token_with_device_code(deviceCode=device_code)
        return str(answer.value.response["Error"]["Code"])

    started = client.start_device_authorization(clientName="test terminal")
    assert poll_code(started["deviceCode"]) == "AuthorizationPendingException"
    assert poll_code(started["deviceCode"]) == "SlowDownException"
    approve(started["verificationUriComplete"], user, PASSWORD)
    assert client.create_token_with_device_code(deviceCode=started["deviceCode"])["userName"] == user
    assert poll_code(started["deviceCode"]) == "InvalidGrantException"  # one token per approval

    denied = client.start_device_authorization(clientName="test terminal")
    browser = Browser()
    browser.decide(browser.sign_in(denied["verificationUriComplete"], user, PASSWORD), "deny")
    assert poll_code(denied["deviceCode"]) == "AccessDeniedException"
    assert poll_code("made-up-device-code") == "InvalidGrantException"


def test_login_in_a_terminal_asks_for_the_password_without_echoing_it(
    server: ServerProcess, station: SignInStation
) -> None:
    user, principal_id = new_user(server)
    station.farmhand("profile", "add", "studio", "--url", server.url, "--user", user)
    controller, terminal = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [str(BIN / "farmhand"), "login", "--profile", "studio"],
        env=station.env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        preexec_fn=own_terminal,
    )
    os.close(terminal)
    shown = b""
    give_up = time.monotonic() + 60
    while b"Password" not in shown and time.monotonic() < give_up:
        shown += os.read(controller, 1024)
    os.write(controller, (PASSWORD + "\n").encode())
    while process.poll() is None and time.monotonic() < give_up:
        try:
            shown += os.read(controller, 1024)
        except OSError:
            break
    process.wait(timeout=30)
    os.close(controller)

    assert process.returncode == 0, shown.decode(errors="replace")
    assert PASSWORD.encode() not in shown
    assert f"as {user}".encode() in shown
    assert caller_of(station.session("studio"), server)["UserId"] == principal_id


def test_passwords_are_never_written_anywhere_in_clear(tmp_path: Path) -> None:
    """Given a farm whose user's password is set, changed, tried wrong and right, when every file of
    its data directory (database and its WAL, logs, audit trail) and everything it printed is read,
    then neither password appears, in any encoding a log or a row would use."""
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    with ServerProcess(tmp_path / "farm") as server:
        admin = identity(server)
        deadline = server.client("deadline")
        deadline.create_farm(displayName="audited")  # a farm: its audit trail records the calls below
        name = f"user-{uuid.uuid4().hex[:8]}"
        admin.create_user(userName=name, password=first)
        unsigned = unsigned_identity_client(server.url)
        for wrong in (first.upper(), second):
            with pytest.raises(ClientError):
                unsigned.sign_in(userName=name, password=wrong)
        token = unsigned.sign_in(userName=name, password=first)["refreshToken"]
        unsigned.get_sign_in_credentials(refreshToken=token)
        admin.set_user_password(userName=name, password=second)
        with pytest.raises(ClientError):
            unsigned.sign_in(userName=name, password=first)
        unsigned.sign_in(userName=name, password=second)
        printed = "\n".join(server.output)
    files = [p for p in (tmp_path / "farm").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".db") for p in files), files
    # the scan sees what the farm stored: the user's name is there, in its row
    assert any(name.encode() in p.read_bytes() for p in files)
    for secret in (first, second):
        forms = {secret.encode(), secret.encode("utf-16-le"), json.dumps(secret).encode()}
        assert secret not in printed
        for path in files:
            data = path.read_bytes()
            assert not any(form in data for form in forms), f"{secret!r} found in {path}"
