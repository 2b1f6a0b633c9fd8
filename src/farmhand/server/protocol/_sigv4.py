"""SigV4 verification: recompute the caller's signature with botocore's own signer and compare.

The server never re-implements the canonical-request rules; it rebuilds the request as the client
saw it and asks botocore's `SigV4Auth` (or `S3SigV4Auth`) for the signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ._errors import (
    ExpiredTokenError,
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    UnrecognizedClientError,
)

MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

# What a service accepts as the body hash a signature covers: called with the declared
# `X-Amz-Content-SHA256` (None when absent) and the received body; raises when it refuses.
PayloadCheck = Callable[[str | None, bytes], None]


def require_signed_payload(declared: str | None, body: bytes) -> None:
    """Deadline, Logs and STS: the signature covers the body's SHA-256, never `UNSIGNED-PAYLOAD`.

    Without the header, the signature is computed over the received body's hash, so a body swapped
    after signing fails it. With the header, the signature covers the declared value: it must be
    the hash of the body that arrived.
    """
    if declared is None:
        return
    if not _SHA256_HEX.fullmatch(declared):
        raise InvalidSignatureError(
            f"X-Amz-Content-SHA256 must be the hex SHA-256 of the body; {declared[:40]!r} is accepted "
            "only by the S3 API"
        )
    if not hmac.compare_digest(declared, hashlib.sha256(body).hexdigest()):
        raise InvalidSignatureError(
            "The request body does not match the X-Amz-Content-SHA256 the signature covers "
            "(the body was changed after signing)"
        )


def payload_checked_by_endpoint(declared: str | None, body: bytes) -> None:
    """S3: any declared form (a hash, `UNSIGNED-PAYLOAD`, streaming) is accepted here, because the
    object store reads the body after authenticating and verifies it as it streams."""


_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True)
class SigningKey:
    """What the store knows about an access key id."""

    access_key_id: str
    secret_access_key: str
    principal_id: str
    session_token: str | None = None
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a received HTTP request that a signature covers."""

    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class VerifiedCaller:
    key: SigningKey
    service: str
    region: str


def credential_scope_service(authorization: str | None) -> str | None:
    """The service named in an Authorization header's credential scope (deadline, logs, s3, sts)."""
    if not authorization:
        return None
    match = _AUTH.match(authorization)
    if not match:
        return None
    parts = match.group("credential").split("/")
    return parts[3] if len(parts) == 5 else None


def verify(
    request: SignedRequest,
    lookup: Callable[[str], SigningKey | None],
    now: dt.datetime | None = None,
    payload_check: PayloadCheck = require_signed_payload,
) -> VerifiedCaller:
    """Return the verified caller or raise the AWS authentication error that fits.

    `payload_check` is the serving API's rule for the body hash (see `require_signed_payload`).
    """
    authorization = request.headers.get("authorization")
    if not authorization:
        raise MissingAuthenticationTokenError("Missing Authentication Token: the request is not signed")
    match = _AUTH.match(authorization)
    if not match:
        raise IncompleteSignatureError("Authorization header is not a well-formed AWS4-HMAC-SHA256 signature")
    credential = match.group("credential").split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise IncompleteSignatureError(
            "Credential scope must be <key>/<date>/<region>/<service>/aws4_request"
        )
    access_key_id, scope_date, region, service, _ = credential
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise IncompleteSignatureError("X-Amz-Date header is missing or malformed") from exc
    if not amz_date.startswith(scope_date):
        raise InvalidSignatureError("Credential scope date does not match X-Amz-Date")
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise InvalidSignatureError(
            f"Signature expired: {amz_date} is more than 15 minutes from the server time "
            f"{now.strftime('%Y%m%dT%H%M%SZ')}"
        )

    key = lookup(access_key_id)
    if key is None:
        raise UnrecognizedClientError("The security token included in the request is invalid")
    if key.session_token is not None:
        token = request.headers.get("x-amz-security-token")
        if token is None or not hmac.compare_digest(token, key.session_token):
            raise UnrecognizedClientError("The security token included in the request is invalid")
    if key.expires_at is not None and now >= key.expires_at:
        raise ExpiredTokenError("The security token included in the request is expired")

    signed_names = match.group("signed").split(";")
    signed_headers = {name: request.headers.get(name, "") for name in signed_names}
    if "host" not in signed_headers:
        raise IncompleteSignatureError("The host header must be signed")
    aws_request = AWSRequest(
        method=request.method,
        url=f"http://{signed_headers['host']}{request.raw_path}",
        headers=signed_headers,
        data=request.body,
    )
    aws_request.params = list(request.query)  # type: ignore[assignment]
    aws_request.context["timestamp"] = amz_date
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(Credentials(access_key_id, key.secret_access_key), service, region)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    if not hmac.compare_digest(expected, match.group("signature")):
        raise InvalidSignatureError(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    payload_check(request.headers.get("x-amz-content-sha256"), request.body)
    return VerifiedCaller(key=key, service=service, region=region)
