"""The farm secret: sealing, signed tokens, and where the key comes from."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from farmhand.server.farm_secret import (
    KEY_FILE_NAME,
    FarmSecret,
    FarmSecretError,
    InvalidTokenError,
    SealedValueError,
    is_sealed,
    load_farm_secret,
)

PASSPHRASE = "x" * 32


def test_a_sealed_value_opens_only_with_the_same_secret_and_purpose() -> None:
    secret = FarmSecret.from_text(PASSPHRASE)
    sealed = secret.seal("wJalrXUtnFEMI/K7MDENG", "access-keys")
    assert is_sealed(sealed) and "wJalrXUtnFEMI" not in sealed
    assert secret.unseal(sealed, "access-keys") == "wJalrXUtnFEMI/K7MDENG"
    # The same text gives the same key (servers sharing a database share FARMHAND_SECRET_KEY)
    assert FarmSecret.from_text(PASSPHRASE).unseal(sealed, "access-keys") == "wJalrXUtnFEMI/K7MDENG"
    with pytest.raises(SealedValueError):
        secret.unseal(sealed, "session-tokens")
    with pytest.raises(SealedValueError):
        FarmSecret.from_text("y" * 32).unseal(sealed, "access-keys")


def test_an_altered_sealed_value_is_refused() -> None:
    secret = FarmSecret.generate()
    sealed = secret.seal("secret", "p")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    for bad in (flipped, sealed[:-4], "fhs1.", "fhs1.!!!", "plaintext"):
        with pytest.raises(SealedValueError):
            secret.unseal(bad, "p")


def test_sealing_twice_gives_different_text() -> None:
    secret = FarmSecret.generate()
    assert secret.seal("same", "p") != secret.seal("same", "p")


def test_tokens_carry_their_value_and_refuse_forgeries() -> None:
    secret = FarmSecret.generate()
    token = secret.mint_token([1712345678.5, "job-abc"], "page:jobs")
    assert secret.read_token(token, "page:jobs") == [1712345678.5, "job-abc"]
    # Deterministic: the same position gives the same token (paginators compare them)
    assert secret.mint_token([1712345678.5, "job-abc"], "page:jobs") == token
    forged = base64.urlsafe_b64encode(b"[{}, -1]").decode().rstrip("=")
    for bad in (forged, "", "%%%", "é", token[:-1], token + "A"):
        with pytest.raises(InvalidTokenError):
            secret.read_token(bad, "page:jobs")
    with pytest.raises(InvalidTokenError):
        secret.read_token(token, "page:fleets")
    with pytest.raises(InvalidTokenError):
        FarmSecret.generate().read_token(token, "page:jobs")


def test_fingerprints_are_keyed() -> None:
    one, other = FarmSecret.generate(), FarmSecret.generate()
    assert one.fingerprint("refresh", "p") == one.fingerprint("refresh", "p")
    assert one.fingerprint("refresh", "p") != other.fingerprint("refresh", "p")
    assert one.fingerprint("refresh", "p") != one.fingerprint("refresh", "q")


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FarmSecretError, match="at least 32 characters"):
        load_farm_secret(tmp_path, {"FARMHAND_SECRET_KEY": "x" * 31})


def test_the_environment_wins_and_no_key_file_is_written(tmp_path: Path) -> None:
    secret = load_farm_secret(tmp_path, {"FARMHAND_SECRET_KEY": PASSPHRASE})
    assert FarmSecret.from_text(PASSPHRASE).unseal(secret.seal("v", "p"), "p") == "v"
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_without_the_variable_a_private_key_file_is_created_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "farm"
    previous = os.umask(0o022)
    try:
        first = load_farm_secret(data_dir, {})
    finally:
        os.umask(previous)
    key_file = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    # The next start reads the same key
    assert load_farm_secret(data_dir, {}).unseal(first.seal("v", "p"), "p") == "v"


def test_a_key_file_left_readable_is_made_private_and_a_damaged_one_refused(tmp_path: Path) -> None:
    load_farm_secret(tmp_path, {})
    key_file = tmp_path / KEY_FILE_NAME
    key_file.chmod(0o644)
    load_farm_secret(tmp_path, {})
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.write_text("not a key\n")
    with pytest.raises(FarmSecretError, match="does not hold a farm key"):
        load_farm_secret(tmp_path, {})
