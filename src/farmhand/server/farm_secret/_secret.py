"""One secret per farm, kept outside the database, from which every key the server needs is derived.

The secret comes from `FARMHAND_SECRET_KEY` (any text of at least 32 characters; servers sharing
one database are given the same text) or, when that is unset, from a random key in a 0600 file the
server creates in its data directory. Each use derives its own subkey (HKDF with a purpose label),
so a value sealed or signed for one purpose is refused for any other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_KEY_ENV = "FARMHAND_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
MIN_SECRET_KEY_CHARS = 32

# Sealed values carry a version prefix, so a later key or algorithm can be told apart.
SEALED_PREFIX = "fhs1."
_TOKEN_TAG_BYTES = 16
_NONCE_BYTES = 12
_PASSPHRASE_SALT = b"farmhand farm secret v1"

log = logging.getLogger("farmhand.server")


class FarmSecretError(RuntimeError):
    """The farm secret cannot be had (too short, unreadable key file, wrong key for this database)."""


class SealedValueError(ValueError):
    """A sealed value that this farm secret did not seal for this purpose (or that was altered)."""


class InvalidTokenError(ValueError):
    """A token this farm did not mint for this purpose (forged, altered or minted for another use)."""


class FarmSecret:
    """Keys derived from the farm secret: sealing (AES-GCM), signed tokens and keyed fingerprints."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise FarmSecretError("a farm secret needs at least 32 bytes of key material")
        self._master = master_key
        self._subkeys: dict[str, bytes] = {}
        self._aead = AESGCM(self.derive_key("seal"))

    @classmethod
    def from_text(cls, text: str) -> FarmSecret:
        """The secret an operator gives as text (`FARMHAND_SECRET_KEY`): at least 32 characters."""
        if len(text) < MIN_SECRET_KEY_CHARS:
            raise FarmSecretError(
                f"{SECRET_KEY_ENV} must have at least {MIN_SECRET_KEY_CHARS} characters (it has {len(text)})"
            )
        return cls(_hkdf(text.encode("utf-8"), _PASSPHRASE_SALT, b"master"))

    @classmethod
    def generate(cls) -> FarmSecret:
        return cls(secrets.token_bytes(32))

    def derive_key(self, purpose: str, length: int = 32) -> bytes:
        """A subkey of its own for `purpose` (e.g. "refresh-tokens"); the same purpose, the same key."""
        if length == 32 and purpose in self._subkeys:
            return self._subkeys[purpose]
        key = _hkdf(self._master, b"farmhand subkey", purpose.encode("utf-8"), length)
        if length == 32:
            self._subkeys[purpose] = key
        return key

    # -- secrets at rest -------------------------------------------------------------------------

    def seal(self, plaintext: str, purpose: str) -> str:
        """Encrypt and authenticate `plaintext` for storage; only `unseal` with the same purpose opens it."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("utf-8"))
        return SEALED_PREFIX + _b64encode(nonce + sealed)

    def unseal(self, sealed: str, purpose: str) -> str:
        if not is_sealed(sealed):
            raise SealedValueError("the value is not sealed")
        try:
            raw = _b64decode(sealed[len(SEALED_PREFIX) :])
            opened = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode("utf-8"))
            return opened.decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise SealedValueError(f"the value was not sealed with this farm secret for {purpose}") from exc

    # -- tokens handed to callers ----------------------------------------------------------------

    def mint_token(self, value: Any, purpose: str) -> str:
        """An opaque URL-safe token carrying `value` (JSON), signed so the server knows it minted it."""
        payload = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return _b64encode(payload + self._tag(payload, purpose))

    def read_token(self, token: str, purpose: str) -> Any:
        """The value of a token `mint_token` made for `purpose`; anything else raises InvalidTokenError."""
        try:
            raw = _b64decode(token)
        except ValueError:
            raise InvalidTokenError("the token is not one this farm issued") from None
        payload, tag = raw[:-_TOKEN_TAG_BYTES], raw[-_TOKEN_TAG_BYTES:]
        if len(raw) <= _TOKEN_TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload, purpose)):
            raise InvalidTokenError("the token is not one this farm issued")
        return json.loads(payload)

    def fingerprint(self, value: str, purpose: str) -> str:
        """A keyed hash (hex HMAC-SHA256) to store instead of a secret that only needs comparing."""
        return hmac.new(
            self.derive_key(f"fingerprint:{purpose}"), value.encode("utf-8"), hashlib.sha256
        ).hexdigest()

    def _tag(self, payload: bytes, purpose: str) -> bytes:
        digest = hmac.new(self.derive_key(f"token:{purpose}"), payload, hashlib.sha256).digest()
        return digest[:_TOKEN_TAG_BYTES]


def is_sealed(value: str) -> bool:
    """Whether a stored value is in the sealed form (rather than legacy plaintext)."""
    return value.startswith(SEALED_PREFIX)


def load_farm_secret(data_dir: Path, environ: Mapping[str, str] | None = None) -> FarmSecret:
    """The farm secret from `FARMHAND_SECRET_KEY`, or from the data dir's key file (created if absent)."""
    environ = os.environ if environ is None else environ
    text = environ.get(SECRET_KEY_ENV)
    if text:
        return FarmSecret.from_text(text)
    return FarmSecret(_read_or_create_key_file(data_dir / KEY_FILE_NAME))


def _read_or_create_key_file(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(_b64encode(key) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s was readable by others (mode %o); made private (0600)", path, mode & 0o777)
        os.chmod(path, 0o600)
    text = path.read_text().strip()
    try:
        key = _b64decode(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise FarmSecretError(f"{path} does not hold a farm key (expected 32 random bytes in base64)")
    return key


def _hkdf(material: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(material)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
