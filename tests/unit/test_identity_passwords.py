"""Password hashes: scrypt, salted, checked in constant time; unknown users cost the same and fail."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from farmhand.server.identity_store import hash_password, verify_password


def test_a_hash_checks_its_password_only() -> None:
    stored = hash_password("correct horse")

    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("", stored)


def test_hashes_are_salted() -> None:
    assert hash_password("same") != hash_password("same")


def test_tampered_or_foreign_hashes_never_match() -> None:
    stored = hash_password("pw")
    scheme, n, r, p, salt, key = stored.split("$")

    assert not verify_password("pw", "$".join([scheme, n, r, p, salt, key[:-4] + "AAA="]))
    assert not verify_password("pw", "md5$x")
    assert not verify_password("pw", "garbage")


def test_a_missing_user_costs_a_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown user (no hash) runs scrypt just as a wrong password does: no timing shortcut."""
    stored = hash_password("pw")
    verify_password("warm up the stand-in hash", None)
    costs: list[int] = []
    real_scrypt = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        costs.append(kwargs["n"])
        return real_scrypt(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)

    assert not verify_password("pw", None)
    assert not verify_password("wrong", stored)

    assert costs == [2**14, 2**14]
