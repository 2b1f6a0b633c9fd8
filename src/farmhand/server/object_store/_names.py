"""Which bucket names and object keys the store accepts.

Bucket names follow S3's rules. Keys are stricter than S3's: the job-attachment layout only uses
relative, '/'-separated paths, and a key that could be read as a path escape (`..`, a leading `/`,
empty segments) or that carries NUL is refused instead of being stored under a surprising name.
"""

from __future__ import annotations

import re

from ._errors import S3Error

__all__ = ["MAX_KEY_BYTES", "check_bucket_name", "check_key", "check_prefix"]

MAX_KEY_BYTES = 1024

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def check_bucket_name(name: str) -> None:
    """Raise InvalidBucketName unless `name` is a valid S3 bucket name."""
    if (
        not _BUCKET.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or _IP_ADDRESS.match(name)
        or name.startswith("xn--")
        or name.endswith("-s3alias")
    ):
        raise S3Error(
            "InvalidBucketName",
            "The specified bucket is not valid: names are 3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit",
            bucket=name,
        )


def _check_text(what: str, text: str) -> None:
    if "\x00" in text:
        raise S3Error("InvalidArgument", f"{what} must not contain NUL")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", f"{what} is longer than {MAX_KEY_BYTES} bytes")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise S3Error("InvalidArgument", f"{what} is not valid UTF-8") from None


def check_key(key: str) -> None:
    """Raise unless `key` is a non-empty relative path without empty, '.' or '..' segments."""
    if not key:
        raise S3Error("InvalidArgument", "The object key must not be empty")
    _check_text("The object key", key)
    if key.startswith("/"):
        raise S3Error("InvalidArgument", "The object key must be relative (it starts with '/')", key=key)
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise S3Error(
                "InvalidArgument",
                f"The object key must not contain {'an empty' if not segment else repr(segment)} "
                "path segment",
                key=key,
            )


def check_prefix(prefix: str) -> None:
    """A listing prefix: any text a key could start with (no NUL, not over-long)."""
    _check_text("The prefix", prefix)
