"""SigV4 verification against requests signed by botocore's own signer."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from farmhand.server.protocol import (
    ExpiredTokenError,
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    SignedRequest,
    SigningKey,
    UnrecognizedClientError,
    credential_scope_service,
    verify,
)

KEY = SigningKey("AKIAEXAMPLEKEY000001", "secret-of-the-example-key", "admin")
TEMPORARY = SigningKey(
    "ASIAEXAMPLEKEY000002",
    "temporary-secret",
    "queue-role",
    session_token="token-123",
    expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
)
KEYS = {KEY.access_key_id: KEY, TEMPORARY.access_key_id: TEMPORARY}


def _signed(
    method: str = "GET",
    url: str = "http://127.0.0.1:8080/2023-10-12/farms?maxResults=5&nextToken=a%2Fb",
    body: bytes = b"",
    *,
    key: SigningKey = KEY,
    secret: str | None = None,
    service: str = "deadline",
    token: str | None = None,
) -> SignedRequest:
    """A request as botocore signs it, in the form the server receives it."""
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    credentials = Credentials(key.access_key_id, secret or key.secret_access_key, token)
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(credentials, service, "us-west-2").add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = parts.netloc
    return SignedRequest(method, parts.path, parse_qsl(parts.query, keep_blank_values=True), headers, body)


def _with(request: SignedRequest, **changes: object) -> SignedRequest:
    fields = {
        "method": request.method,
        "raw_path": request.raw_path,
        "query": request.query,
        "headers": dict(request.headers),
        "body": request.body,
    }
    fields.update(changes)
    return SignedRequest(**fields)  # type: ignore[arg-type]


def test_a_botocore_signature_verifies() -> None:
    caller = verify(_signed(), KEYS.get)
    assert (caller.key.principal_id, caller.service, caller.region) == ("admin", "deadline", "us-west-2")


def test_a_signed_body_verifies_and_a_changed_body_does_not() -> None:
    request = _signed("POST", "http://127.0.0.1:8080/2023-10-12/farms", b'{"displayName":"a"}')
    assert verify(request, KEYS.get).key is KEY
    with pytest.raises(InvalidSignatureError):
        verify(_with(request, body=b'{"displayName":"b"}'), KEYS.get)


def test_a_changed_query_or_path_does_not_verify() -> None:
    request = _signed()
    with pytest.raises(InvalidSignatureError):
        verify(_with(request, query=[("maxResults", "6")]), KEYS.get)
    with pytest.raises(InvalidSignatureError):
        verify(_with(request, raw_path="/2023-10-12/queues"), KEYS.get)


def test_a_wrong_secret_does_not_verify() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(_signed(secret="another-secret"), KEYS.get)


def test_an_unsigned_request_is_missing_its_token() -> None:
    request = _signed()
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    with pytest.raises(MissingAuthenticationTokenError):
        verify(_with(request, headers=headers), KEYS.get)


def test_a_malformed_authorization_header_is_incomplete() -> None:
    request = _signed()
    with pytest.raises(IncompleteSignatureError):
        verify(
            _with(request, headers={**request.headers, "authorization": "AWS4-HMAC-SHA256 nonsense"}),
            KEYS.get,
        )


def test_an_unknown_key_is_unrecognised() -> None:
    with pytest.raises(UnrecognizedClientError):
        verify(_signed(), lambda key_id: None)


def test_clock_skew_beyond_15_minutes_is_refused() -> None:
    request = _signed()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    with pytest.raises(InvalidSignatureError, match="expired"):
        verify(request, KEYS.get, now=later)
    assert verify(request, KEYS.get, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=14)).key is KEY


def test_temporary_credentials_need_their_session_token() -> None:
    good = _signed(key=TEMPORARY, token="token-123")
    assert verify(good, KEYS.get).key is TEMPORARY
    with pytest.raises(UnrecognizedClientError):
        verify(_signed(key=TEMPORARY, token="other-token"), KEYS.get)
    with pytest.raises(UnrecognizedClientError):
        verify(_signed(key=TEMPORARY), KEYS.get)


def test_expired_temporary_credentials_are_refused() -> None:
    expired = SigningKey(
        TEMPORARY.access_key_id,
        TEMPORARY.secret_access_key,
        "queue-role",
        session_token="token-123",
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
    )
    with pytest.raises(ExpiredTokenError):
        verify(_signed(key=TEMPORARY, token="token-123"), {expired.access_key_id: expired}.get)


def test_s3_signatures_verify_with_the_s3_signer() -> None:
    request = _signed("PUT", "http://127.0.0.1:8080/bucket/Data/abc.xxh128", b"content", service="s3")
    assert verify(request, KEYS.get).service == "s3"


def test_the_credential_scope_names_the_service() -> None:
    assert credential_scope_service(_signed(service="sts").headers["authorization"]) == "sts"
    assert credential_scope_service(None) is None
    assert credential_scope_service("Bearer x") is None
