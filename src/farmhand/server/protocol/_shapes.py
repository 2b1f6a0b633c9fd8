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


def _parse_timestamp(value: str | int | float) -> dt.datetime:
    """A request timestamp. The ISO 8601 form SDKs send (`2026-12-05T19:00:00.123456Z`) is read by
    `datetime.fromisoformat`: a worker's report carries two per action, and botocore's general
    parser (dateutil) costs a tenth of a schedule call. Every other form goes to botocore's."""
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return parse_timestamp(value)  # type: ignore[arg-type]  # epoch numbers too


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


#: At most this many problems are named in one answer (a list of bad items would make it huge).
MAX_REPORTED_PROBLEMS = 100


class _Invalid(Exception):
    """A value that cannot be checked further (wrong type, bad text): its problem is recorded."""


def validate(shape: Any, value: Any, path: str = "") -> Any:
    """Check `value` against `shape` and return it in server form (timestamps as aware datetimes).

    Every bad field is reported at once, as botocore's ParamValidator does on the client side: one
    `ValidationException` whose message and `fieldList` name each problem.
    """
    problems: list[FieldProblem] = []
    checked = _Checker(problems).check(shape, value, path)
    if not problems:
        return checked
    if len(problems) == 1:
        only = problems[0]
        raise ValidationError(f"{only.name}: {only.message}", fields=problems)
    shown = problems[:MAX_REPORTED_PROBLEMS]
    listed = "; ".join(f"{p.name}: {p.message}" for p in shown)
    more = f" (the first {len(shown)} of {len(problems)})" if len(shown) < len(problems) else ""
    raise ValidationError(f"{len(problems)} validation errors{more}: {listed}", fields=shown)


class _Checker:
    """Walks a value along its shape, recording each bad field instead of stopping at the first.

    A field gets one problem (its first); a structure's other members, a list's other items and a
    map's other entries are still checked.
    """

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems

    def fail(self, path: str, problem: str) -> _Invalid:
        self.problems.append(FieldProblem(path or "body", problem))
        return _Invalid()

    def check(self, shape: Any, value: Any, path: str) -> Any:
        try:
            return self._check(shape, value, path)
        except _Invalid:
            return None

    def _check(self, shape: Any, value: Any, path: str) -> Any:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            if not isinstance(value, dict):
                raise self.fail(path, "must be an object")
            members = shape.members
            if meta.get("union"):
                present = [k for k, v in value.items() if v is not None and k in members]
                if len(present) != 1:
                    self.fail(path, f"must set exactly one of: {', '.join(members)}")
            for required in meta.get("required", ()):
                if value.get(required) is None:
                    self.fail(_join(path, required), "is required")
            out: dict[str, Any] = {}
            for key, item in value.items():
                member = members.get(key)
                if member is None or item is None:
                    continue  # members a newer model may send are ignored, as AWS services do
                out[key] = self.check(member, item, _join(path, key))
            return out
        if kind == "list":
            if not isinstance(value, list):
                raise self.fail(path, "must be a list")
            self._check_size(meta, len(value), path, "items")
            return [self.check(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                raise self.fail(path, "must be an object")
            self._check_size(meta, len(value), path, "entries")
            return {
                self.check(shape.key, k, f"{path} key"): self.check(shape.value, v, f"{path}.{k}")
                for k, v in value.items()
            }
        if kind == "string":
            if not isinstance(value, str):
                raise self.fail(path, "must be a string")
            if "\x00" in value and shape.name not in NUL_ALLOWED_SHAPES:
                raise self.fail(path, "must not contain NUL characters")
            self._check_size(meta, len(value), path, "characters")
            enum = shape.enum
            if enum and value not in enum:
                raise self.fail(path, f"must be one of {', '.join(enum)} (got {value!r})")
            pattern = meta.get("pattern")
            if pattern and value:
                compiled = _pattern(pattern)
                if compiled is not None and compiled.fullmatch(value) is None:
                    raise self.fail(path, f"does not match the pattern {pattern}")
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(path, "must be an integer")
            low, high = _INTEGER_RANGE[kind]
            if not low <= value <= high:
                raise self.fail(path, f"must be between {low} and {high} (a {kind})")
            self._check_range(meta, value, path)
            return value
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise self.fail(path, "must be a number")
            self._check_range(meta, value, path)
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise self.fail(path, "must be true or false")
            return value
        if kind == "timestamp":
            if isinstance(value, dt.datetime):
                parsed = value
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(path, "must be a timestamp")
            else:
                try:
                    parsed = _parse_timestamp(value)
                except (ValueError, TypeError, OverflowError, OSError, RuntimeError):
                    raise self.fail(path, "must be a timestamp") from None
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if not EARLIEST_TIMESTAMP <= parsed < LATEST_TIMESTAMP:
                raise self.fail(path, "must be a timestamp between 1970 and 9000")
            return parsed
        if kind == "blob":
            if not isinstance(value, str):
                raise self.fail(path, "must be base64 text")
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise self.fail(path, "must be base64 text") from None
        return value  # document: any JSON value, passed through untouched

    def _check_size(self, meta: dict[str, Any], size: int, path: str, unit: str) -> None:
        low, high = meta.get("min"), meta.get("max")
        if low is not None and size < low:
            raise self.fail(path, f"must have at least {low} {unit}")
        if high is not None and size > high:
            raise self.fail(path, f"must have at most {high} {unit} (got {size})")

    def _check_range(self, meta: dict[str, Any], value: float, path: str) -> None:
        low, high = meta.get("min"), meta.get("max")
        if low is not None and value < low:
            raise self.fail(path, f"must be at least {low} (got {value})")
        if high is not None and value > high:
            raise self.fail(path, f"must be at most {high} (got {value})")


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
