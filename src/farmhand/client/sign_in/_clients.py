"""Clients of the farm's identity API (`farmhand-identity`): signed with a profile, or unsigned by URL.

The identity API is served by the farm at the same URL as its Deadline Cloud API, so a profile's
client goes wherever the profile's `deadline` client goes (with its region and CA bundle). botocore
is imported when a client is built: a `credential_process` that finds fresh credentials stored
never needs it.
"""

from __future__ import annotations

from configparser import ConfigParser
from typing import Any

from ..._models import IDENTITY_SERVICE, add_models_to

__all__ = ["identity_client", "unsigned_identity_client"]

DEFAULT_REGION = "us-west-2"


def identity_client(config: ConfigParser | None = None) -> Any:
    """A client of the farm's identity API signed with the configured profile's credentials."""
    from botocore.config import Config

    from ..api._session import get_boto3_client, get_boto3_session, user_agent_extra

    session = get_boto3_session(config=config)
    add_models_to(session._session)
    deadline = get_boto3_client("deadline", config=config)
    return session.client(  # type: ignore[call-overload]
        IDENTITY_SERVICE,
        endpoint_url=deadline.meta.endpoint_url,
        region_name=deadline.meta.region_name,
        config=Config(user_agent_extra=user_agent_extra()),
    )


def unsigned_identity_client(url: str, *, ca_bundle: str | None = None, region: str | None = None) -> Any:
    """A client for the sign-in calls (password, refresh token, device code), which carry no signature.

    Built on a fresh botocore session: it never reads a profile, so it works before any exists.
    """
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    add_models_to(session)
    verify: str | bool | None = ca_bundle or None
    return session.create_client(
        IDENTITY_SERVICE,
        endpoint_url=url,
        region_name=region or DEFAULT_REGION,
        verify=verify,
        config=Config(signature_version=UNSIGNED, retries={"mode": "standard", "max_attempts": 3}),
    )
