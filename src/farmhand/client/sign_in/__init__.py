"""Signing in to a farmhand farm: identity API clients, sign-in profiles, refresh tokens, login/logout."""

from ._clients import identity_client, unsigned_identity_client

__all__ = ["identity_client", "unsigned_identity_client"]
