"""Farm users who sign in to the monitor: created through the identity API with a password and given a
membership level through the Deadline API, as an operator would; and a plain-HTTP page session that
calls the farm's API the way the monitor's script does (cookie plus CSRF header)."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from _browser import Browser
from farmhand._models import add_models_to
from farmhand.client.sign_in import unsigned_identity_client
from farmhand.testing import ServerProcess

PASSWORD = "correct horse battery"
CSRF_HEADER = "x-farmhand-csrf"


@dataclass
class FarmUser:
    name: str
    principal_id: str


def create_farm_user(
    admin_session: boto3.Session, url: str, farm_id: str, level: str, prefix: str
) -> FarmUser:
    """A user with a password and `level` on the farm (VIEWER, CONTRIBUTOR, MANAGER or OWNER)."""
    add_models_to(admin_session._session)
    config = Config(inject_host_prefix=False)
    identity = admin_session.client("farmhand-identity", endpoint_url=url, config=config)  # type: ignore[call-overload]
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    principal_id = identity.create_user(userName=name, password=PASSWORD)["principalId"]
    deadline = admin_session.client("deadline", endpoint_url=url, config=config)  # type: ignore[call-overload]
    store = identity.get_identity_store()["identityStoreId"]
    deadline.associate_member_to_farm(
        farmId=farm_id,
        principalId=principal_id,
        principalType="USER",
        identityStoreId=store,
        membershipLevel=level,
    )
    return FarmUser(name, principal_id)


def user_session(url: str, user: FarmUser) -> boto3.Session:
    """The user's own signed API access (a sign-in's temporary credentials), e.g. to submit jobs."""
    identity = unsigned_identity_client(url)
    token = identity.sign_in(userName=user.name, password=PASSWORD)["refreshToken"]
    credentials = identity.get_sign_in_credentials(refreshToken=token)["credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        region_name="us-west-2",
    )


class PageSession:
    """A browser signed in on the farm's sign-in page, calling the API as the monitor's script does."""

    def __init__(self, server: ServerProcess | str, user: FarmUser) -> None:
        self.url = server if isinstance(server, str) else server.url
        self.browser = Browser()
        landed = self.browser.sign_in(f"{self.url}/signin?next=/", user.name, PASSWORD)
        assert landed.status == 200, landed.text[:500]
        self.shell = landed.text
        found = re.search(r"<meta name=farmhand-csrf content='([^']+)'>", landed.text)
        assert found, landed.text[:500]
        self.csrf = found.group(1)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.browser.cookies if c.name == name), None)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        csrf: bool = True,
    ) -> tuple[int, dict[str, str], Any]:
        """One API request with the session cookie (and the CSRF header unless `csrf` is False)."""
        data = None if body is None else json.dumps(body).encode()
        sent = {
            "Content-Type": "application/json",
            **({CSRF_HEADER: self.csrf} if csrf else {}),
            **(headers or {}),
        }
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        page = self.browser._open(request)
        return page.status, {k.lower(): v for k, v in page.headers.items()}, json.loads(page.text or "{}")

    def get_job(self, farm_id: str, queue_id: str, job_id: str) -> tuple[int, dict[str, str], Any]:
        return self.call("GET", f"/2023-10-12/farms/{farm_id}/queues/{queue_id}/jobs/{job_id}")

    def update_job(
        self, farm_id: str, queue_id: str, job_id: str, **change: Any
    ) -> tuple[int, dict[str, str], Any]:
        return self.call("PATCH", f"/2023-10-12/farms/{farm_id}/queues/{queue_id}/jobs/{job_id}", change)


def quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")
