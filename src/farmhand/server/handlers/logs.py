"""CloudWatch Logs subset: the calls worker agents write with and clients read session/worker logs with.

Groups and streams are created implicitly by PutLogEvents (the worker agent never creates them);
sequence tokens are accepted and ignored, as CloudWatch does today. Times are epoch milliseconds.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import func, select, tuple_

from ...arns import arn, log_group_named
from ..farm_secret import farm_secret_of
from ..logs import (
    END,
    START,
    Position,
    UnsupportedPatternError,
    append_events,
    decode_position,
    delete_group,
    delete_stream,
    encode_position,
    group_exists,
    new_group,
    new_stream,
    parse_filter_pattern,
    set_retention,
    stream_row,
)
from ..protocol import ServiceError
from ..store import log_events, log_groups, log_streams
from ._common import decode_token, encode_token
from ._registry import Call, Output, Params, operation

DAY_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * DAY_MS
TOO_NEW_MS = 2 * 3600 * 1000
MAX_EVENT_BYTES = 256 * 1024
DEFAULT_EVENT_LIMIT = 10_000
DEFAULT_DESCRIBE_LIMIT = 50
FILTER_SCAN_BATCH = 2_000
FILTER_SCAN_BUDGET = 100_000


def _error(code: str, message: str) -> ServiceError:
    return ServiceError(message, code=code, status=400)


def _invalid(message: str) -> ServiceError:
    return _error("InvalidParameterException", message)


def _group_missing() -> ServiceError:
    return _error("ResourceNotFoundException", "The specified log group does not exist.")


def _stream_missing() -> ServiceError:
    return _error("ResourceNotFoundException", "The specified log stream does not exist.")


def _millis(call: Call) -> int:
    return int(call.now.timestamp() * 1000)


def _group_name(params: Params) -> str:
    """`logGroupName`, or the name inside `logGroupIdentifier` (a name or a log-group ARN)."""
    name = params.get("logGroupName")
    identifier = params.get("logGroupIdentifier")
    if name and identifier:
        raise _invalid("Specify logGroupName or logGroupIdentifier, not both")
    if identifier:
        return log_group_named(str(identifier))
    if not name:
        raise _invalid("logGroupName or logGroupIdentifier is required")
    return str(name)


def _group_arn(call: Call, group: str) -> str:
    return arn("logs", f"log-group:{group}", region=call.region, account=call.account_id)


# --- groups and streams ---------------------------------------------------------------------------


@operation("CreateLogGroup", service="logs")
def create_log_group(call: Call, params: Params) -> Output:
    if not new_group(call.conn, params["logGroupName"], _millis(call)):
        raise _error("ResourceAlreadyExistsException", "The specified log group already exists")
    return {}


@operation("CreateLogStream", service="logs")
def create_log_stream(call: Call, params: Params) -> Output:
    group, stream = params["logGroupName"], params["logStreamName"]
    if not group_exists(call.conn, group):
        raise _group_missing()
    if not new_stream(call.conn, group, stream, _millis(call)):
        raise _error("ResourceAlreadyExistsException", "The specified log stream already exists")
    return {}


@operation("DeleteLogGroup", service="logs")
def delete_log_group(call: Call, params: Params) -> Output:
    group = params["logGroupName"]
    if not group_exists(call.conn, group):
        raise _group_missing()
    delete_group(call.conn, group)
    return {}


@operation("DeleteLogStream", service="logs")
def delete_log_stream(call: Call, params: Params) -> Output:
    group, stream = params["logGroupName"], params["logStreamName"]
    if not group_exists(call.conn, group):
        raise _group_missing()
    if stream_row(call.conn, group, stream) is None:
        raise _stream_missing()
    delete_stream(call.conn, group, stream)
    return {}


# The values CloudWatch Logs accepts for retentionInDays.
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


@operation("PutRetentionPolicy", service="logs")
def put_retention_policy(call: Call, params: Params) -> Output:
    """Events older than this many days are deleted by the farm's housekeeping (see operations)."""
    group, days = params["logGroupName"], int(params["retentionInDays"])
    if days not in RETENTION_DAYS:
        raise _invalid(f"retentionInDays must be one of {', '.join(map(str, RETENTION_DAYS))}")
    if not group_exists(call.conn, group):
        raise _group_missing()
    set_retention(call.conn, group, days)
    return {}


@operation("DeleteRetentionPolicy", service="logs")
def delete_retention_policy(call: Call, params: Params) -> Output:
    group = params["logGroupName"]
    if not group_exists(call.conn, group):
        raise _group_missing()
    set_retention(call.conn, group, None)
    return {}


@operation("DescribeLogGroups", service="logs")
def describe_log_groups(call: Call, params: Params) -> Output:
    limit = int(params.get("limit") or DEFAULT_DESCRIBE_LIMIT)
    stmt = select(log_groups)
    prefix = params.get("logGroupNamePrefix")
    if prefix:
        stmt = stmt.where(log_groups.c.log_group_name.startswith(prefix, autoescape=True))
    token = params.get("nextToken")
    if token:
        (after,) = decode_token(call.conn, "DescribeLogGroups", token, 1)
        stmt = stmt.where(log_groups.c.log_group_name > after)
    rows = list(call.conn.execute(stmt.order_by(log_groups.c.log_group_name).limit(limit + 1)))
    next_token = (
        encode_token(call.conn, "DescribeLogGroups", [rows[limit - 1].log_group_name])
        if len(rows) > limit
        else None
    )
    rows = rows[:limit]
    sizes = dict(
        call.conn.execute(
            select(log_streams.c.log_group_name, func.sum(log_streams.c.stored_bytes))
            .where(log_streams.c.log_group_name.in_([r.log_group_name for r in rows]))
            .group_by(log_streams.c.log_group_name)
        ).all()
    )
    groups = [
        {
            "logGroupName": row.log_group_name,
            "creationTime": row.creation_time,
            "metricFilterCount": 0,
            "arn": _group_arn(call, row.log_group_name) + ":*",
            "logGroupArn": _group_arn(call, row.log_group_name),
            "storedBytes": int(sizes.get(row.log_group_name) or 0),
            "logGroupClass": "STANDARD",
            "retentionInDays": row.retention_in_days,
        }
        for row in rows
    ]
    return {"logGroups": groups, "nextToken": next_token}


@operation("DescribeLogStreams", service="logs")
def describe_log_streams(call: Call, params: Params) -> Output:
    group = _group_name(params)
    if not group_exists(call.conn, group):
        raise _group_missing()
    order_by = params.get("orderBy") or "LogStreamName"
    prefix = params.get("logStreamNamePrefix")
    if prefix and order_by == "LastEventTime":
        raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(params.get("descending"))
    limit = int(params.get("limit") or DEFAULT_DESCRIBE_LIMIT)
    if order_by == "LastEventTime":
        key = [func.coalesce(log_streams.c.last_event_timestamp, -1), log_streams.c.log_stream_name]
    else:
        key = [log_streams.c.log_stream_name]
    stmt = select(log_streams).where(log_streams.c.log_group_name == group)
    if prefix:
        stmt = stmt.where(log_streams.c.log_stream_name.startswith(prefix, autoescape=True))
    token = params.get("nextToken")
    if token:
        after = decode_token(call.conn, f"DescribeLogStreams:{order_by}", token, len(key))
        cursor, boundary = tuple_(*key), tuple_(*after)
        stmt = stmt.where(cursor < boundary if descending else cursor > boundary)
    ordering = [k.desc() for k in key] if descending else key
    rows = list(call.conn.execute(stmt.order_by(*ordering).limit(limit + 1)))
    next_token = None
    if len(rows) > limit:
        last = rows[limit - 1]
        values: list[Any] = [last.log_stream_name]
        if order_by == "LastEventTime":
            values.insert(0, last.last_event_timestamp if last.last_event_timestamp is not None else -1)
        next_token = encode_token(call.conn, f"DescribeLogStreams:{order_by}", values)
    streams = [_describe_stream(call, row) for row in rows[:limit]]
    return {"logStreams": streams, "nextToken": next_token}


def _describe_stream(call: Call, row: Any) -> dict[str, Any]:
    return {
        "logStreamName": row.log_stream_name,
        "creationTime": row.creation_time,
        "firstEventTimestamp": row.first_event_timestamp,
        "lastEventTimestamp": row.last_event_timestamp,
        "lastIngestionTime": row.last_ingestion_time,
        "uploadSequenceToken": _sequence_token(row.upload_count),
        "arn": f"{_group_arn(call, row.log_group_name)}:log-stream:{row.log_stream_name}",
        "storedBytes": int(row.stored_bytes),
    }


def _sequence_token(upload_count: int) -> str:
    return f"{upload_count:056d}"


# --- writing ----------------------------------------------------------------------------------------


@operation("PutLogEvents", service="logs")
def put_log_events(call: Call, params: Params) -> Output:
    group, stream = params["logGroupName"], params["logStreamName"]
    events: list[dict[str, Any]] = params["logEvents"]
    now_ms = _millis(call)
    timestamps = [int(e["timestamp"]) for e in events]
    if any(later < earlier for earlier, later in itertools.pairwise(timestamps)):
        raise _invalid("Log events in a single PutLogEvents request must be in chronological order.")
    if timestamps and timestamps[-1] - timestamps[0] > DAY_MS:
        raise _invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )
    for index, event in enumerate(events):
        if len(event["message"].encode("utf-8")) > MAX_EVENT_BYTES:
            raise _invalid(f"logEvents[{index}].message is larger than {MAX_EVENT_BYTES} bytes")

    # Rejected events: too old ones form a prefix of the sorted batch, too new ones a suffix.
    first_kept = 0
    while first_kept < len(events) and timestamps[first_kept] < now_ms - TOO_OLD_MS:
        first_kept += 1
    end_kept = len(events)
    while end_kept > first_kept and timestamps[end_kept - 1] > now_ms + TOO_NEW_MS:
        end_kept -= 1
    rejected: dict[str, int] = {}
    if first_kept:
        rejected["tooOldLogEventEndIndex"] = first_kept
    if end_kept < len(events):
        rejected["tooNewLogEventStartIndex"] = end_kept

    kept = [(int(event["timestamp"]), str(event["message"])) for event in events[first_kept:end_kept]]
    upload_count = append_events(call.conn, group, stream, kept, now_ms)
    output: dict[str, Any] = {"nextSequenceToken": _sequence_token(upload_count)}
    if rejected:
        output["rejectedLogEventsInfo"] = rejected
    return output


# --- reading ----------------------------------------------------------------------------------------


def _time_window(params: Params) -> list[Any]:
    clauses: list[Any] = []
    if params.get("startTime") is not None:
        clauses.append(log_events.c.timestamp >= int(params["startTime"]))
    if params.get("endTime") is not None:
        clauses.append(log_events.c.timestamp < int(params["endTime"]))
    return clauses


@operation("GetLogEvents", service="logs")
def get_log_events(call: Call, params: Params) -> Output:
    group, stream = _group_name(params), params["logStreamName"]
    if not group_exists(call.conn, group):
        raise _group_missing()
    if stream_row(call.conn, group, stream) is None:
        raise _stream_missing()
    limit = int(params.get("limit") or DEFAULT_EVENT_LIMIT)
    token = params.get("nextToken")
    if token:
        decoded = decode_position(farm_secret_of(call.conn), token)
        if decoded is None:
            raise _invalid("The specified nextToken is invalid.")
        direction, position = decoded
    elif params.get("startFromHead"):
        direction, position = "f", START
    else:
        direction, position = "b", END

    cursor = tuple_(log_events.c.timestamp, log_events.c.event_id)
    stmt = select(
        log_events.c.event_id, log_events.c.timestamp, log_events.c.message, log_events.c.ingestion_time
    )
    stmt = stmt.where(
        log_events.c.log_group_name == group, log_events.c.log_stream_name == stream, *_time_window(params)
    )
    if direction == "f":
        stmt = stmt.where(cursor > tuple_(*position)).order_by(log_events.c.timestamp, log_events.c.event_id)
        rows = list(call.conn.execute(stmt.limit(limit)))
    else:
        stmt = stmt.where(cursor < tuple_(*position)).order_by(
            log_events.c.timestamp.desc(), log_events.c.event_id.desc()
        )
        rows = list(reversed(list(call.conn.execute(stmt.limit(limit)))))

    events = [
        {"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_time} for r in rows
    ]
    if rows:
        forward = Position(rows[-1].timestamp, rows[-1].event_id)
        backward = Position(rows[0].timestamp, rows[0].event_id)
    elif direction == "f":
        # At the end going forward: the same token again, and backward from here includes the event
        # this position follows.
        forward, backward = position, Position(position.timestamp, position.event_id + 1)
    else:
        forward, backward = Position(position.timestamp, position.event_id - 1), position
    return {
        "events": events,
        "nextForwardToken": encode_position(farm_secret_of(call.conn), "f", forward),
        "nextBackwardToken": encode_position(farm_secret_of(call.conn), "b", backward),
    }


@operation("FilterLogEvents", service="logs")
def filter_log_events(call: Call, params: Params) -> Output:
    group = _group_name(params)
    if not group_exists(call.conn, group):
        raise _group_missing()
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive")
    try:
        pattern = parse_filter_pattern(params.get("filterPattern"))
    except UnsupportedPatternError as exc:
        raise _invalid(str(exc)) from exc
    limit = int(params.get("limit") or DEFAULT_EVENT_LIMIT)
    position = START
    token = params.get("nextToken")
    if token:
        values = decode_token(call.conn, "FilterLogEvents", token, 2)
        position = Position(int(values[0]), int(values[1]))

    stmt = select(
        log_events.c.event_id,
        log_events.c.log_stream_name,
        log_events.c.timestamp,
        log_events.c.message,
        log_events.c.ingestion_time,
    ).where(log_events.c.log_group_name == group, *_time_window(params))
    if names:
        stmt = stmt.where(log_events.c.log_stream_name.in_(names))
    elif prefix:
        stmt = stmt.where(log_events.c.log_stream_name.startswith(prefix, autoescape=True))
    stmt = stmt.order_by(log_events.c.timestamp, log_events.c.event_id)
    cursor = tuple_(log_events.c.timestamp, log_events.c.event_id)

    found: list[dict[str, Any]] = []
    scanned = 0
    exhausted = False
    while len(found) < limit and scanned < FILTER_SCAN_BUDGET:
        batch = list(call.conn.execute(stmt.where(cursor > tuple_(*position)).limit(FILTER_SCAN_BATCH)))
        for row in batch:
            position = Position(row.timestamp, row.event_id)
            scanned += 1
            if pattern.matches(row.message):
                found.append(
                    {
                        "logStreamName": row.log_stream_name,
                        "timestamp": row.timestamp,
                        "message": row.message,
                        "ingestionTime": row.ingestion_time,
                        "eventId": str(row.event_id),
                    }
                )
                if len(found) == limit:
                    break
        if len(batch) < FILTER_SCAN_BATCH and len(found) < limit:
            exhausted = True
            break
    next_token = (
        None
        if exhausted
        else encode_token(call.conn, "FilterLogEvents", [position.timestamp, position.event_id])
    )
    return {"events": found, "searchedLogStreams": [], "nextToken": next_token}
