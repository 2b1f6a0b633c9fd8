"""Both clients sign in and out of a farmhand farm through `deadline-cloud-monitor.path`.

The unmodified AWS `deadline auth login/logout` and `api.login/logout` (farmhand's, with the same
semantics) run the monitor executable the sign-in profile named: farmhand-monitor, which shows a
device code that a person approves on the farm's sign-in page (the `BROWSER` of these tests).
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from _browser import approve
from _sign_in_station import SignInStation
from farmhand._models import add_models_to
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(240)
PASSWORD = "correct horse battery"


def new_user(server: ServerProcess) -> tuple[str, str]:
    session = server.boto3_session()
    add_models_to(session._session)
    name = f"user-{uuid.uuid4().hex[:8]}"
    created = server.client("farmhand-identity", session=session).create_user(
        userName=name, password=PASSWORD
    )
    return name, created["principalId"]


@pytest.fixture
def station(tmp_path: Path, server: ServerProcess) -> tuple[SignInStation, str, str]:
    user, principal_id = new_user(server)
    station = SignInStation(tmp_path / "station")
    added = station.farmhand("profile", "add", "studio", "--url", server.url, "--user", user)
    assert added.returncode == 0, added.stderr
    return station, user, principal_id


def test_the_aws_cli_signs_in_and_out_of_a_farmhand_farm(
    server: ServerProcess, station: tuple[SignInStation, str, str]
) -> None:
    station_, user, principal_id = station

    # When the unmodified AWS CLI signs in (its monitor shows a code; the person approves it)
    login = station_.run("deadline", "auth", "login", env=station_.browser_env(user, PASSWORD))

    # Then the AWS CLI reaches the farm as that user
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Successfully logged in: Deadline Cloud monitor profile: studio" in login.stdout
    status = json.loads(station_.run("deadline", "auth", "status", "--output", "json").stdout)
    assert (status["source"], status["status"]) == ("DEADLINE_CLOUD_MONITOR_LOGIN", "AUTHENTICATED")
    farms = station_.run("deadline", "farm", "list")
    assert farms.returncode == 0, farms.stdout + farms.stderr
    assert "user_id = " + principal_id in station_.aws_config.read_text()

    # When it signs out, the profile needs a new sign-in
    logout = station_.run("deadline", "auth", "logout")
    assert logout.returncode == 0, logout.stdout + logout.stderr
    assert "Signed out of profile studio" in logout.stdout
    after = json.loads(station_.run("deadline", "auth", "status", "--output", "json").stdout)
    assert after["status"] == "NEEDS_LOGIN"
    assert json.loads(station_.farmhand("auth", "status", "--json").stdout)["status"] == "NEEDS_LOGIN"


def test_api_login_hands_the_code_to_the_caller_and_logout_signs_out(
    server: ServerProcess, station: tuple[SignInStation, str, str]
) -> None:
    station_, user, principal_id = station
    seen: dict[str, Any] = {}

    def on_pending(credentials_source: Any, verification_uri: str = "", user_code: str = "") -> None:
        seen.update(source=credentials_source.name, uri=verification_uri, code=user_code)
        # The person approves in their browser while login waits.
        threading.Thread(target=approve, args=(verification_uri, user, PASSWORD), daemon=True).start()

    with station_.environment():
        from farmhand.client import api

        message = api.login(on_pending, lambda: False)
        who = api.get_boto3_client("sts").get_caller_identity()["UserId"]
        identity = api.get_user_and_identity_store_id()
        logged_out = api.logout()
        status = api.check_authentication_status()

    assert message == "Deadline Cloud monitor profile: studio"
    assert seen["source"] == "DEADLINE_CLOUD_MONITOR_LOGIN"
    assert seen["uri"].startswith(server.url + "/signin?user_code=") and seen["code"] in seen["uri"]
    assert who == principal_id and identity[0] == principal_id
    assert "Signed out of profile studio" in logged_out
    assert status.name == "NEEDS_LOGIN"


def test_api_login_can_be_canceled_and_stops_the_monitor(station: tuple[SignInStation, str, str]) -> None:
    station_, _, _ = station
    calls: list[dict[str, Any]] = []
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    with station_.environment():
        from farmhand.client import api

        with pytest.raises(api.LoginCanceled, match="Login canceled"):
            api.login(lambda **kwargs: calls.append(kwargs), lambda: bool(calls))

    assert [set(c) for c in calls] == [{"credentials_source", "verification_uri", "user_code"}]
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_login_and_logout_refuse_profiles_that_do_not_sign_in(tmp_path: Path, server: ServerProcess) -> None:
    station = SignInStation(tmp_path / "keys")
    admin_file = tmp_path / "admin.json"
    admin = server.admin
    admin_file.write_text(
        json.dumps(
            {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": admin.secret_access_key}
        )
    )
    added = station.farmhand(
        "profile", "add", "ops", "--url", server.url, "--admin", "--admin-credentials", str(admin_file)
    )
    assert added.returncode == 0, added.stderr

    with station.environment():
        from farmhand.client import api

        assert api.get_credentials_source().name == "HOST_PROVIDED"
        with pytest.raises(api.UnsupportedProfileTypeForLoginLogout):
            api.login(lambda **_: None, lambda: False)
        with pytest.raises(api.UnsupportedProfileTypeForLoginLogout):
            api.logout()
