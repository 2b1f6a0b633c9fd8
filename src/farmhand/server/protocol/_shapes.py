"""Validate request values against botocore shapes, and serialise response values by shape.

botocore checks only required members, types and minimums on the client side; everything else a
model declares (maximums, enums, patterns, unions) is checked here, so a violation is answered with
a `ValidationException` naming the field, as the service does.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
import re
from typing import Any

from botocore.utils import parse_timestamp

from ._errors import FieldProblem, ValidationError

UTC = dt.UTC

# The ranges the wire types stand for: larger integers overflow the store's columns (SQLite and
# PostgreSQL integers are 64-bit at most).
_INTEGER_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# Timestamps a request may carry: beyond these, date arithmetic and the store's types overflow.
EARLIEST_TIMESTAMP = dt.datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = dt.datetime(9000, 1, 1, tzinfo=UTC)
# String shapes whose text may hold NUL characters (log lines are what a process printed); a
# handler storing them replaces NUL, which no PostgreSQL text or JSON column can hold.
NUL_ALLOWED_SHAPES = frozenset({"EventMessage"})

# Shapes are botocore StructureShape/ListShape/MapShape/StringShape objects: typed loosely on purpose,
# since which attributes exist depends on `type_name`.


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _fail(path: str, problem: str) -> ValidationError:
    name = path or "body"
    return ValidationError(f"{name}: {problem}", fields=[FieldProblem(name, problem)])


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def validate(shape: Any, value: Any, path: str = "") -> Any:
    """Check `value` against `shape` and return it in server form (timestamps as aware datetimes)."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            raise _fail(path, "must be an object")
        members = shape.members
        if meta.get("union"):
            present = [k for k, v in value.items() if v is not None and k in members]
            if len(present) != 1:
                raise _fail(path, f"must set exactly one of: {', '.join(members)}")
        for required in meta.get("required", ()):
            if value.get(required) is None:
                raise _fail(_join(path, required), "is required")
        out: dict[str, Any] = {}
        for key, item in value.items():
            member = members.get(key)
            if member is None or item is None:
                continue  # members a newer model may send are ignored, as AWS services do
            out[key] = validate(member, item, _join(path, key))
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _fail(path, "must be a list")
        _check_size(meta, len(value), path, "items")
        return [validate(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _fail(path, "must be an object")
        _check_size(meta, len(value), path, "entries")
        return {
            validate(shape.key, k, f"{path} key"): validate(shape.value, v, f"{path}.{k}")
            for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(path, "must be a string")
        if "\x00" in value and shape.name not in NUL_ALLOWED_SHAPES:
            raise _fail(path, "must not contain NUL characters")
        _check_size(meta, len(value), path, "characters")
        enum = shape.enum
        if enum and value not in enum:
            raise _fail(path, f"must be one of {', '.join(enum)} (got {value!r})")
        pattern = meta.get("pattern")
        if pattern and value:
            compiled = _pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                raise _fail(path, f"does not match the pattern {pattern}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "must be an integer")
        low, high = _INTEGER_RANGE[kind]
        if not low <= value <= high:
            raise _fail(path, f"must be between {low} and {high} (a {kind})")
        _check_range(meta, value, path)
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(path, "must be a number")
        _check_range(meta, value, path)
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false")
        return value
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _fail(path, "must be a timestamp")
        else:
            try:
                parsed = parse_timestamp(value)  # type: ignore[arg-type]  # epoch numbers too
            except (ValueError, TypeError, OverflowError, OSError, RuntimeError) as exc:
                raise _fail(path, "must be a timestamp") from exc
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if not EARLIEST_TIMESTAMP <= parsed < LATEST_TIMESTAMP:
            raise _fail(path, "must be a timestamp between 1970 and 9000")
        return parsed
    if kind == "blob":
        if not isinstance(value, str):
            raise _fail(path, "must be base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise _fail(path, "must be base64 text") from exc
    return value  # document: any JSON value, passed through untouched


def _check_size(meta: dict[str, Any], size: int, path: str, unit: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        raise _fail(path, f"must have at least {low} {unit}")
    if high is not None and size > high:
        raise _fail(path, f"must have at most {high} {unit} (got {size})")


def _check_range(meta: dict[str, Any], value: float, path: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        raise _fail(path, f"must be at least {low} (got {value})")
    if high is not None and value > high:
        raise _fail(path, f"must be at most {high} (got {value})")


def coerce_text(shape: Any, text: str, path: str) -> Any:
    """Turn a querystring/header/URI value into the shape's type before validation."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError as exc:
        raise _fail(path, f"must be a number (got {text!r})") from exc
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise _fail(path, "must be true or false")
        return text.lower() == "true"
    return text


# The form format_timestamp writes; stored documents hold timestamps in it, so they pass unchanged.
_CANONICAL_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def format_timestamp(value: dt.datetime | float | str) -> str:
    """ISO-8601 with an explicit zone and millisecond precision (naive values break callers)."""
    if isinstance(value, str):
        if _CANONICAL_TIMESTAMP.fullmatch(value):
            return value
        value = parse_timestamp(value)
    elif isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class MissingMemberError(RuntimeError):
    """A handler produced an output without a member the model marks required: a server bug."""


def serialize(shape: Any, value: Any, path: str = "", *, epoch_timestamps: bool = False) -> Any:
    """Render a handler's output value as the JSON the model describes."""
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return value  # document: any JSON value, passed through untouched
    if kind == "structure":
        out: dict[str, Any] = {}
        for key, member in shape.members.items():
            item = value.get(key)
            if item is None:
                continue
            if member.serialization.get("location"):
                continue  # header/status members are written by the caller
            out[key] = serialize(member, item, _join(path, key), epoch_timestamps=epoch_timestamps)
        for required in shape.metadata.get("required", ()):
            if required not in out and not shape.members[required].serialization.get("location"):
                raise MissingMemberError(f"{shape.name}: required member {_join(path, required)} missing")
        return out
    if kind == "list":
        return [serialize(shape.member, v, path, epoch_timestamps=epoch_timestamps) for v in value]
    if kind == "map":
        return {
            k: serialize(shape.value, v, path, epoch_timestamps=epoch_timestamps) for k, v in value.items()
        }
    if kind == "timestamp":
        if epoch_timestamps and shape.serialization.get("timestampFormat") != "iso8601":
            if isinstance(value, dt.datetime):
                return value.timestamp()
            return value
        return format_timestamp(value)
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    return value
