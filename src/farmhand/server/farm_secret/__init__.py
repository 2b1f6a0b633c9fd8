"""The farm secret: keys for sealing secrets at rest and for tokens the server hands out.

    secret = load_farm_secret(data_dir)          # FARMHAND_SECRET_KEY, or <data dir>/secret.key
    attach_farm_secret(store, secret)            # checked against the database, then bound to it
    sealed = farm_secret_of(conn).seal(secret_text, "access-keys")
    farm_secret_of(conn).unseal(sealed, "access-keys")
    token = secret.mint_token([position], "deadline:ListJobs")   # read_token() refuses forgeries

Purposes are free-form labels; use one per kind of value so nothing sealed for one use opens for another.
"""

from ._binding import attach_farm_secret, farm_secret_of, unsealed
from ._secret import (
    KEY_FILE_NAME,
    MIN_SECRET_KEY_CHARS,
    SECRET_KEY_ENV,
    FarmSecret,
    FarmSecretError,
    InvalidTokenError,
    SealedValueError,
    is_sealed,
    load_farm_secret,
)

__all__ = [
    "KEY_FILE_NAME",
    "MIN_SECRET_KEY_CHARS",
    "SECRET_KEY_ENV",
    "FarmSecret",
    "FarmSecretError",
    "InvalidTokenError",
    "SealedValueError",
    "attach_farm_secret",
    "farm_secret_of",
    "is_sealed",
    "load_farm_secret",
    "unsealed",
]
