"""Requests as an attacker sends them: any body, signed with botocore's own SigV4 signer (or not),
sent over a plain HTTP connection without botocore's client-side checks."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from farmhand.testing import ServerProcess

LOGS_TARGET = "Logs_20140328"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str:
        """The AWS error code, from the header or the body (JSON or STS's XML)."""
        if "x-amzn-errortype" in self.headers:
            return self.headers["x-amzn-errortype"].split(":")[0]
        text = self.body.decode("utf-8", "replace")
        if "<Code>" in text:
            return text.split("<Code>", 1)[1].split("</Code>", 1)[0]
        try:
            return str(json.loads(text).get("__type", ""))
        except ValueError:
            return ""

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    server: ServerProcess,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    service: str = "deadline",
    headers: Mapping[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    sign: bool = True,
    sent_body: bytes | None = None,
    timeout: float = 60,
) -> Answer:
    """Sign `body` for `service` and send `sent_body` (default: the same body) as the request."""
    url = server.url + path + (("?" + urlencode(query)) if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if sign:
        admin = server.admin
        SigV4Auth(Credentials(admin.access_key_id, admin.secret_access_key), service, "us-west-2").add_auth(
            request
        )
    prepared = request.prepare()
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        payload = body if sent_body is None else sent_body
        connection.request(method, target, body=payload or None, headers=dict(prepared.headers))
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def send_logs(server: ServerProcess, operation: str, body: bytes, **options: Any) -> Answer:
    """A CloudWatch Logs (awsJson1.1) call with the given body."""
    headers = {"X-Amz-Target": f"{LOGS_TARGET}.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    return send(server, "POST", "/", body, service="logs", headers=headers, **options)


def send_deadline(server: ServerProcess, method: str, path: str, body: bytes = b"", **options: Any) -> Answer:
    headers = {"Content-Type": "application/json", **options.pop("headers", {})}
    return send(server, method, path, body, headers=headers, **options)
