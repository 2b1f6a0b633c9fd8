"""CloudWatch Logs semantics that are independent of storage: read positions and filter patterns."""

from ._pattern import FilterPattern, UnsupportedPatternError, parse_filter_pattern
from ._position import END, START, Position, decode_position, encode_position

__all__ = [
    "END",
    "START",
    "FilterPattern",
    "Position",
    "UnsupportedPatternError",
    "decode_position",
    "encode_position",
    "parse_filter_pattern",
]
