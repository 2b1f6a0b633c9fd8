"""Positions in a log stream, and the opaque `f/…` / `b/…` tokens GetLogEvents hands out.

A position sits between two events. Events are ordered by (timestamp, event id), so a position
is the pair of the event it follows; an `f/` token reads forward from after that pair and a `b/`
token reads backward from before it. The pair is signed with the farm secret: a forged position
never reaches a query. Tokens are deterministic, so a caller seeing the same token twice knows it
is at the end (boto3's paginator stops on that).
"""

from __future__ import annotations

from typing import NamedTuple

from ..farm_secret import FarmSecret, InvalidTokenError

_PURPOSE = "logs:GetLogEvents"


class Position(NamedTuple):
    timestamp: int
    event_id: int


START = Position(-(2**62), 0)
END = Position(2**62, 0)


def encode_position(secret: FarmSecret, direction: str, position: Position) -> str:
    signed = secret.mint_token([position.timestamp, position.event_id], f"{_PURPOSE}:{direction}")
    return f"{direction}/{signed}"


def decode_position(secret: FarmSecret, token: str) -> tuple[str, Position] | None:
    """The direction (`f` or `b`) and position of a token, or None when it is not one of ours."""
    direction, _, signed = token.partition("/")
    if direction not in ("f", "b"):
        return None
    try:
        timestamp, event_id = secret.read_token(signed, f"{_PURPOSE}:{direction}")
    except (InvalidTokenError, ValueError, TypeError):
        return None
    return direction, Position(int(timestamp), int(event_id))
