"""CloudWatch Logs: read positions and filter patterns, and the storage of groups, streams and events."""

from ._pattern import FilterPattern, UnsupportedPatternError, parse_filter_pattern
from ._position import END, START, Position, decode_position, encode_position
from ._storage import (
    append_events,
    delete_group,
    delete_stream,
    group_exists,
    new_group,
    new_stream,
    set_retention,
    stream_row,
)

__all__ = [
    "END",
    "START",
    "FilterPattern",
    "Position",
    "UnsupportedPatternError",
    "append_events",
    "decode_position",
    "delete_group",
    "delete_stream",
    "encode_position",
    "group_exists",
    "new_group",
    "new_stream",
    "parse_filter_pattern",
    "set_retention",
    "stream_row",
]
