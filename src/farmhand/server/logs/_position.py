"""Positions in a log stream, and the opaque `f/…` / `b/…` tokens GetLogEvents hands out.

A position sits between two events. Events are ordered by (timestamp, event id), so a position
is the pair of the event it follows; `f/<ts>/<id>` reads forward from after that pair and
`b/<ts>/<id>` reads backward from before it.
"""

from __future__ import annotations

from typing import NamedTuple


class Position(NamedTuple):
    timestamp: int
    event_id: int


START = Position(-(2**62), 0)
END = Position(2**62, 0)


def encode_position(direction: str, position: Position) -> str:
    return f"{direction}/{position.timestamp}/{position.event_id}"


def decode_position(token: str) -> tuple[str, Position] | None:
    """The direction (`f` or `b`) and position of a token, or None when it is not one of ours."""
    parts = token.split("/")
    if len(parts) != 3 or parts[0] not in ("f", "b"):
        return None
    try:
        return parts[0], Position(int(parts[1]), int(parts[2]))
    except ValueError:
        return None
