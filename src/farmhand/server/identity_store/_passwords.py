"""Password hashes: scrypt (memory-hard), compared in constant time, with the same cost for unknown users.

A check against a user that does not exist (or has no password) still runs scrypt against a fixed
hash, so the answer's timing does not tell which user names exist.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
SALT_BYTES = 16
MAX_MEMORY = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=MAX_MEMORY,
        dklen=KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$<salt>$<key>` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


@functools.cache
def _stand_in_hash() -> str:
    """The hash unknown users are checked against (a random password nobody knows)."""
    return hash_password(secrets.token_urlsafe(32))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`; None (no user, no password) costs the same and is False."""
    encoded = stored if stored is not None else _stand_in_hash()
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != SCHEME:
            raise ValueError(scheme)
        expected = base64.b64decode(key)
        derived = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, expected) and stored is not None
