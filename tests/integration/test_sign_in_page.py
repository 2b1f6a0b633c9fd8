"""The farm's sign-in page: plain HTML forms that refuse forged posts and keep their cookies private."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from _browser import Browser
from farmhand._models import add_models_to
from farmhand.client.sign_in import unsigned_identity_client
from farmhand.testing import ServerProcess

PASSWORD = "correct horse battery"


@pytest.fixture
def user(server: ServerProcess) -> str:
    session = server.boto3_session()
    add_models_to(session._session)
    name = f"page-{uuid.uuid4().hex[:8]}"
    server.client("farmhand-identity", session=session).create_user(userName=name, password=PASSWORD)
    return name


def cookie_headers(page: Any) -> list[str]:
    return [value for key, value in page.headers.items() if key.lower() == "set-cookie"]


def test_the_page_is_never_framed_cached_or_scripted(server: ServerProcess) -> None:
    page = Browser().get(server.url + "/signin")

    assert page.status == 200 and "<form method=post action=/signin>" in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<body>", 1)[1]  # nothing external
    headers = {k.lower(): v for k, v in page.headers.items()}
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    (csrf_cookie,) = cookie_headers(page)
    assert (
        csrf_cookie.startswith("farmhand_csrf=")
        and "HttpOnly" in csrf_cookie
        and "SameSite=Lax" in csrf_cookie
    )


def test_signing_in_sets_a_private_session_cookie_and_signing_out_revokes_it(
    server: ServerProcess, user: str
) -> None:
    browser = Browser()

    signed_in = browser.sign_in(server.url + "/signin", user, PASSWORD)

    assert signed_in.status == 200 and f"Signed in as <strong>{user}</strong>" in signed_in.text
    session_cookie = next(c for c in browser.cookies if c.name == "farmhand_session")
    assert session_cookie.has_nonstandard_attr("HttpOnly")
    token = session_cookie.value
    # The web session is a refresh token: it is revoked by signing out.
    signed_out = browser.post(server.url + "/signout", signed_in.hidden())
    assert "Sign in to the farm" in signed_out.text
    with pytest.raises(ClientError) as revoked:
        unsigned_identity_client(server.url).get_sign_in_credentials(refreshToken=token)
    assert revoked.value.response["Error"]["Code"] == "InvalidGrantException"


def test_forged_posts_change_nothing(server: ServerProcess, user: str) -> None:
    client = unsigned_identity_client(server.url)
    client.meta.events.register("needs-retry.*", lambda **_: None)
    started = client.start_device_authorization(clientName="victim terminal")
    browser = Browser()
    approval = browser.sign_in(started["verificationUriComplete"], user, PASSWORD)
    assert "Approve sign-in" in approval.text
    form = approval.hidden()

    no_token = browser.post(server.url + "/signin/device", {**form, "csrf": "", "decision": "approve"})
    wrong_token = browser.post(
        server.url + "/signin/device", {**form, "csrf": "x" * 43, "decision": "approve"}
    )
    other_site = browser.post(
        server.url + "/signin/device",
        {**form, "decision": "approve"},
        headers={"Origin": "https://evil.example"},
    )
    fresh_browser = Browser().post(server.url + "/signin/device", {**form, "decision": "approve"})

    assert [p.status for p in (no_token, wrong_token, other_site, fresh_browser)] == [403, 403, 403, 403]
    with pytest.raises(ClientError) as pending:
        client.create_token_with_device_code(deviceCode=started["deviceCode"])
    assert pending.value.response["Error"]["Code"] == "AuthorizationPendingException"


def test_what_a_terminal_calls_itself_is_shown_as_text(server: ServerProcess, user: str) -> None:
    client = unsigned_identity_client(server.url)
    started = client.start_device_authorization(clientName='<script>alert("x")</script>')

    approval = Browser().sign_in(started["verificationUriComplete"], user, PASSWORD)

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in approval.text
    assert "<script>" not in approval.text


def test_wrong_passwords_on_the_page_are_throttled_too(server: ServerProcess, user: str) -> None:
    browser = Browser()
    statuses = [browser.sign_in(server.url + "/signin", user, "wrong password").status for _ in range(11)]

    assert statuses == [401] * 10 + [429]
    assert "Too many failed sign-ins" in browser.sign_in(server.url + "/signin", user, PASSWORD).text


def test_unknown_codes_and_pages(server: ServerProcess, user: str) -> None:
    browser = Browser()
    browser.sign_in(server.url + "/signin", user, PASSWORD)

    unknown = browser.get(server.url + "/signin?user_code=BBBB-CCCC")
    missing = browser.get(server.url + "/signin/elsewhere")

    assert "unknown, expired or already used" in unknown.text
    assert missing.status == 404
