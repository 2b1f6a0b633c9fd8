"""Where a sign-in profile keeps its refresh token and its current credentials, on this machine.

One private JSON file per profile next to the AWS config (`~/.aws/farmhand/sign-in/<profile>.json`,
directory 0700, file 0600, replaced atomically), like the AWS CLI's own SSO and login caches.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..config import aws_config_path

__all__ = ["StoredSignIn", "delete_sign_in", "read_sign_in", "sign_in_dir", "write_sign_in"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class StoredSignIn:
    url: str
    user_name: str
    principal_id: str
    identity_store_id: str
    refresh_token: str
    refresh_token_expires_at: str  # ISO 8601
    credentials: dict[str, str] | None = None  # AccessKeyId, SecretAccessKey, SessionToken, Expiration

    def credentials_valid_for(self, now: dt.datetime) -> dt.timedelta:
        """How long the stored credentials remain valid (zero when there are none)."""
        if not self.credentials:
            return dt.timedelta(0)
        expiration = dt.datetime.fromisoformat(self.credentials["Expiration"])
        return max(dt.timedelta(0), expiration - now)


def sign_in_dir() -> Path:
    return aws_config_path().parent / "farmhand" / "sign-in"


def _path(profile: str) -> Path:
    return sign_in_dir() / f"{_SAFE_NAME.sub('_', profile)}.json"


def read_sign_in(profile: str) -> StoredSignIn | None:
    path = _path(profile)
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return StoredSignIn(**doc)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None  # an unreadable file is as good as signed out


def write_sign_in(profile: str, stored: StoredSignIn) -> Path:
    directory = sign_in_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    path = _path(profile)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(stored), handle)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def delete_sign_in(profile: str) -> bool:
    try:
        _path(profile).unlink()
        return True
    except FileNotFoundError:
        return False
