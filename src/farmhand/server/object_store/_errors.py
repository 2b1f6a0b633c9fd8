"""S3 errors: the code, HTTP status and message S3 itself answers, rendered as S3's XML error body."""

from __future__ import annotations

from xml.sax.saxutils import escape

__all__ = ["S3Error", "render_error"]

# The HTTP status S3 answers with each error code this endpoint uses.
_STATUS = {
    "AccessDenied": 403,
    "AuthorizationHeaderMalformed": 400,
    "BadDigest": 400,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "ExpiredToken": 400,
    "IncompleteBody": 400,
    "InsufficientStorage": 507,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidChunkSizeError": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "InvalidToken": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MetadataTooLarge": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "MissingSecurityHeader": 400,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "NotImplemented": 501,
    "PreconditionFailed": 412,
    "RequestTimeTooSkewed": 403,
    "SignatureDoesNotMatch": 403,
    "XAmzContentSHA256Mismatch": 400,
}


class S3Error(Exception):
    """An error answered as S3 would: `code` is what botocore's `ClientError` reports."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = _STATUS.get(code, 400)
        self.bucket = bucket
        self.key = key
        self.headers = dict(headers or {})


def render_error(error: S3Error, request_id: str, resource: str = "") -> bytes:
    """The XML body of an S3 error response."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
        f"<Code>{escape(error.code)}</Code>",
        f"<Message>{escape(error.message)}</Message>",
    ]
    if error.bucket is not None:
        parts.append(f"<BucketName>{escape(error.bucket)}</BucketName>")
    if error.key is not None:
        parts.append(f"<Key>{escape(error.key)}</Key>")
    if resource:
        parts.append(f"<Resource>{escape(resource)}</Resource>")
    parts.append(f"<RequestId>{escape(request_id)}</RequestId></Error>")
    return "".join(parts).encode()
