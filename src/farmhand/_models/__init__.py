"""Service models of farmhand's own APIs, in botocore's format, shared by the server and the client.

`farmhand-identity` is the farm's identity store and sign-in: users and groups (signed calls of the
admin or a farm owner) and the unsigned sign-in calls (password, refresh token, device code). The
server parses and answers it like the AWS models; clients get real botocore clients for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["IDENTITY_SERVICE", "IDENTITY_TARGET_PREFIX", "MODELS_DIR", "add_models_to"]

MODELS_DIR = Path(__file__).resolve().parent
IDENTITY_SERVICE = "farmhand-identity"
IDENTITY_TARGET_PREFIX = "FarmhandIdentity"


def add_models_to(botocore_session: Any) -> None:
    """Let a botocore session build clients of farmhand's services (idempotent)."""
    loader = botocore_session.get_component("data_loader")
    if str(MODELS_DIR) not in loader.search_paths:
        loader.search_paths.insert(0, str(MODELS_DIR))
