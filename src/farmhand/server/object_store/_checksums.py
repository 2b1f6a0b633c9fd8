"""The additional checksums S3 clients send (`x-amz-checksum-*`), computed while the body streams in."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Protocol

from ._errors import S3Error

__all__ = ["ALGORITHMS", "Checksum", "new_checksum"]


class Checksum(Protocol):
    def update(self, data: bytes | memoryview) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _Crc32c:
    def __init__(self) -> None:
        import google_crc32c

        self._extend = google_crc32c.extend
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = self._extend(self.value, bytes(data) if isinstance(data, memoryview) else data)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _Crc64Nvme:
    def __init__(self) -> None:
        try:
            from awscrt import checksums  # type: ignore[import-not-found]
        except ImportError:
            raise S3Error(
                "InvalidRequest", "CRC64NVME checksums are not supported by this store; use CRC32"
            ) from None
        self._crc = checksums.crc64nvme
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = self._crc(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(8, "big")


ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


def new_checksum(algorithm: str) -> Checksum:
    """A running checksum for `algorithm` (lower case, as in `x-amz-checksum-<algorithm>`)."""
    if algorithm == "crc32":
        return _Crc32()
    if algorithm == "crc32c":
        return _Crc32c()
    if algorithm == "crc64nvme":
        return _Crc64Nvme()
    if algorithm in ("sha1", "sha256"):
        return hashlib.new(algorithm)
    raise S3Error("InvalidRequest", f"Unknown checksum algorithm {algorithm!r}")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
