"""The wire layer's limits on what a request may hold, and the telemetry intake's bounds."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import botocore.session
import pytest
from sqlalchemy import func, select, update

from farmhand.server._telemetry import ROW_OVERHEAD_BYTES, TelemetryIntake, TelemetryLimits, TelemetryRefused
from farmhand.server.protocol import (
    CannotParseError,
    InvalidSignatureError,
    ValidationError,
    decode_json_body,
    payload_checked_by_endpoint,
    require_signed_payload,
    validate,
)
from farmhand.server.store import Store, sqlite_url, telemetry_events

DEADLINE = botocore.session.get_session().get_service_model("deadline")
LOGS = botocore.session.get_session().get_service_model("logs")


def input_of(model: object, operation: str) -> object:
    return model.operation_model(operation).input_shape  # type: ignore[attr-defined]


@pytest.mark.parametrize("depth", [65, 900, 3000, 100_000])
def test_nesting_beyond_the_limit_is_a_parse_error(depth: int) -> None:
    with pytest.raises(CannotParseError, match="nested more than 64 levels"):
        decode_json_body(b'{"a": ' + b"[" * depth + b"]" * depth + b"}")


def test_nesting_within_the_limit_and_ordinary_text_pass() -> None:
    assert (
        decode_json_body(b'{"a": ' + b"[" * 60 + b"]" * 60 + b', "b": "\\u00e9\\ud83d\\ude00"}')["b"] == "é😀"
    )


@pytest.mark.parametrize("text", [b'{"a": "\\udfff"}', b'{"\\ud800": 1}', b'["x", ["\\udc00"]]'])
def test_lone_surrogates_anywhere_are_a_parse_error(text: bytes) -> None:
    with pytest.raises(CannotParseError, match="surrogate"):
        decode_json_body(text)


@pytest.mark.parametrize(
    ("operation", "member", "value"),
    [
        ("FilterLogEvents", "startTime", 2**63),
        ("FilterLogEvents", "endTime", -(2**63) - 1),
        ("GetLogEvents", "limit", 2**31),
    ],
)
def test_integers_beyond_their_wire_type_are_refused(operation: str, member: str, value: int) -> None:
    params = {"logGroupName": "g", "logStreamName": "s", member: value}
    with pytest.raises(ValidationError, match=member):
        validate(input_of(LOGS, operation), params)


@pytest.mark.parametrize(
    "value", [1e20, -1e20, "99999-01-01T00:00:00Z", "1969-12-31T23:59:59Z", float("nan"), True]
)
def test_timestamps_out_of_range_are_refused(value: object) -> None:
    params = {"farmId": "farm-" + "0" * 32, "fleetId": "fleet-" + "0" * 32, "startTime": value}
    params["endTime"] = "2030-01-01T00:00:00Z"
    params["groupBy"] = ["QUEUE_ID"]
    params["statistics"] = ["SUM"]
    params["resourceIds"] = {"fleetIds": ["fleet-" + "0" * 32]}
    with pytest.raises(ValidationError, match="startTime"):
        validate(input_of(DEADLINE, "StartSessionsStatisticsAggregation"), params)


def test_nul_is_refused_except_in_log_lines() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        validate(input_of(DEADLINE, "CreateFarm"), {"displayName": "a\x00b"})
    event = {"timestamp": 1, "message": "a\x00b"}
    params = validate(
        input_of(LOGS, "PutLogEvents"), {"logGroupName": "g", "logStreamName": "s", "logEvents": [event]}
    )
    assert params["logEvents"][0]["message"] == "a\x00b"


def test_the_signed_payload_rule_refuses_unsigned_and_mismatched_bodies() -> None:
    body = b'{"displayName": "x"}'
    require_signed_payload(None, body)
    require_signed_payload(hashlib.sha256(body).hexdigest(), body)
    for declared in (
        "UNSIGNED-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        hashlib.sha256(b"other").hexdigest(),
    ):
        with pytest.raises(InvalidSignatureError):
            require_signed_payload(declared, body)
    # S3's endpoint checks the body itself, as it streams
    payload_checked_by_endpoint("UNSIGNED-PAYLOAD", b"")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(sqlite_url(tmp_path))


def stored(store: Store) -> tuple[int, int]:
    with store.read() as conn:
        row = conn.execute(
            select(func.count(), func.coalesce(func.sum(telemetry_events.c.size_bytes), 0))
        ).one()
    return int(row[0]), int(row[1])


def test_telemetry_refuses_large_events_and_bursts(store: Store) -> None:
    intake = TelemetryIntake(store, TelemetryLimits(max_event_bytes=100, per_second=0.001, burst=3))
    with pytest.raises(TelemetryRefused) as large:
        intake.accept("10.0.0.1", b"x" * 101)
    assert large.value.status == 413
    for _ in range(3):
        intake.accept("10.0.0.1", b'{"n": 1}')
    with pytest.raises(TelemetryRefused) as burst:
        intake.accept("10.0.0.1", b'{"n": 1}')
    assert (burst.value.status, burst.value.code) == (429, "ThrottlingException")
    intake.accept("10.0.0.2", b'{"n": 1}')  # another source has its own allowance
    assert stored(store)[0] == 4


def test_telemetry_keeps_unparsable_events_as_text(store: Store) -> None:
    intake = TelemetryIntake(store)
    intake.accept("s", b'{"a": "\\u0000"}')
    intake.accept("s", b"[" * 3000)
    with store.read() as conn:
        bodies = [row.body for row in conn.execute(select(telemetry_events.c.body))]
    assert all(set(body) == {"unparsed"} for body in bodies)


def test_telemetry_retention_keeps_the_newest_within_the_cap_and_drops_old_events(store: Store) -> None:
    size = 100 + ROW_OVERHEAD_BYTES
    intake = TelemetryIntake(store, TelemetryLimits(per_second=1000, burst=1000, max_total_bytes=10 * size))
    event = b'"' + b"x" * 98 + b'"'
    # Given more events than the total cap holds (pruning also runs as events arrive)
    for _ in range(15):
        intake.accept("s", event)
    intake.prune()
    # Then only the newest that fit are kept
    assert stored(store) == (10, 10 * size)
    with store.read() as conn:
        kept = sorted(conn.execute(select(telemetry_events.c.event_id)).scalars())
    assert kept == list(range(6, 16))
    # When the oldest kept one is past the age limit, Then it goes too
    with store.write() as conn:
        conn.execute(
            update(telemetry_events)
            .where(telemetry_events.c.event_id == kept[0])
            .values(received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
        )
    assert intake.prune() == 1
    assert stored(store) == (9, 9 * size)
