"""JSON request bodies decoded safely: bounded nesting, and text a database can store.

Python's parser gives up at ~1,000 levels with a RecursionError, and anything nested deeper than
a few dozen levels would later overflow the recursive walks that validate, store and render it;
lone UTF-16 surrogates (`"\\udfff"`) parse but cannot be encoded as UTF-8 for the store. Both are
refused here, before any handler sees the body, as the protocol's parse error.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import CannotParseError

# Deeper than any request of the Deadline, Logs or identity models (search filters nest a few groups).
MAX_JSON_DEPTH = 64


def decode_json_body(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The body's JSON value, or CannotParseError saying what is wrong with it."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise CannotParseError(f"The request body is nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CannotParseError(f"The request body is not valid JSON: {exc}") from exc
    check_json_value(value, max_depth=max_depth)
    return value


def check_json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse nesting deeper than `max_depth` and strings that are not valid Unicode text.

    Iterative, so it is safe on whatever the parser accepted.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise CannotParseError(f"The request body is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CannotParseError(
            "The request body holds a string with a lone UTF-16 surrogate, which is not valid Unicode"
        ) from None
