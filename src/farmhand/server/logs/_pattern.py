"""CloudWatch Logs filter patterns for unstructured events: terms, quoted phrases, `?any`, `-not`.

`ERROR Exception` needs both terms, `"disk full"` the exact phrase, `?ERROR ?WARN` either one,
`ERROR -retrying` ERROR without "retrying". Matching is case-sensitive, as in CloudWatch. JSON
(`{ $.x = 1 }`) and space-delimited (`[a, b]`) patterns are answered as unsupported.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


class UnsupportedPatternError(ValueError):
    """A filter pattern this server does not evaluate."""


@dataclass(frozen=True)
class FilterPattern:
    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def matches(self, message: str) -> bool:
        if any(term in message for term in self.excluded):
            return False
        if not all(term in message for term in self.required):
            return False
        return not self.any_of or any(term in message for term in self.any_of)


def parse_filter_pattern(pattern: str | None) -> FilterPattern:
    text = (pattern or "").strip()
    if not text or text == '""':
        return FilterPattern()
    if text.startswith(("{", "[")):
        raise UnsupportedPatternError("only term and phrase filter patterns are supported by this server")
    try:
        words = shlex.split(text, posix=True)
    except ValueError as exc:
        raise UnsupportedPatternError(f"invalid filter pattern: {exc}") from exc
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for word in words:
        if word.startswith("?") and len(word) > 1:
            any_of.append(word[1:])
        elif word.startswith("-") and len(word) > 1:
            excluded.append(word[1:])
        elif word:
            required.append(word)
    return FilterPattern(tuple(required), tuple(any_of), tuple(excluded))
