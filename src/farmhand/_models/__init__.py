"""Service models of farmhand's own APIs, in botocore's format, shared by the server and the client.

`farmhand-identity` is the farm's identity store and sign-in: users and groups (signed calls of the
admin or a farm owner) and the unsigned sign-in calls (password, refresh token, device code).
`farmhand-scheduling` is what the farm's scheduler can tell about a job (ExplainJob: why its
unfinished work is where it is). The server parses and answers them like the AWS models; clients get
real botocore clients for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "IDENTITY_SERVICE",
    "IDENTITY_TARGET_PREFIX",
    "MODELS_DIR",
    "SCHEDULING_SERVICE",
    "SCHEDULING_TARGET_PREFIX",
    "add_models_to",
]

MODELS_DIR = Path(__file__).resolve().parent
IDENTITY_SERVICE = "farmhand-identity"
IDENTITY_TARGET_PREFIX = "FarmhandIdentity"
SCHEDULING_SERVICE = "farmhand-scheduling"
SCHEDULING_TARGET_PREFIX = "FarmhandScheduling"


def add_models_to(botocore_session: Any) -> None:
    """Let a botocore session build clients of farmhand's services (idempotent)."""
    loader = botocore_session.get_component("data_loader")
    if str(MODELS_DIR) not in loader.search_paths:
        loader.search_paths.insert(0, str(MODELS_DIR))
        # A session that already built a client has listed the services it knows: list them again.
        cache = getattr(loader, "_cache", {})
        for key in [k for k in cache if k and k[0] == "list_available_services"]:
            del cache[key]
