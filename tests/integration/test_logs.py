"""The CloudWatch Logs subset through a real boto3 `logs` client against real farm servers (both stores)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess


@pytest.fixture(scope="module")
def logs(server_any: ServerProcess) -> Any:
    """A logs client on the SQLite server, then on a PostgreSQL one."""
    return server_any.client("logs")


def _group() -> str:
    return f"/aws/deadline/farm-{uuid.uuid4().hex}/queue-{uuid.uuid4().hex}"


def _put(logs: Any, group: str, stream: str, messages: list[str], start_ms: int) -> dict[str, Any]:
    events = [{"timestamp": start_ms + i, "message": m} for i, m in enumerate(messages)]
    return dict(logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events))


def _error(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def now_ms() -> int:
    return int(time.time() * 1000)


def test_put_creates_group_and_stream_and_get_reads_them_back(logs: Any) -> None:
    # Given a group and stream nobody created
    group, stream = _group(), "session-1"
    # When a worker puts events without creating them first
    answer = _put(logs, group, stream, ["line 0", "line 1", "line 2"], now_ms())
    # Then the call succeeds with a sequence token, and the events read back oldest first
    assert answer["nextSequenceToken"]
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert [e["message"] for e in page["events"]] == ["line 0", "line 1", "line 2"]
    assert all(e["ingestionTime"] >= e["timestamp"] - 10_000 for e in page["events"])
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]
    assert streams[0]["storedBytes"] == len("line 0") * 3
    assert streams[0]["arn"].endswith(f"log-group:{group}:log-stream:{stream}")


def test_get_log_events_pages_forward_and_backward_with_tokens(logs: Any) -> None:
    # Given a stream with 25 events
    group, stream = _group(), "s"
    start = now_ms() - 100_000
    _put(logs, group, stream, [f"event {i}" for i in range(25)], start)

    # When reading the tail without a token (as `deadline job logs` does)
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=10)
    # Then the newest 10 events come back, oldest to newest
    assert [e["message"] for e in tail["events"]] == [f"event {i}" for i in range(15, 25)]

    # When following the backward token to the head
    seen = [e["message"] for e in tail["events"]]
    token = tail["nextBackwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token, limit=10)
        if not page["events"]:
            assert page["nextBackwardToken"] == token
            break
        seen = [e["message"] for e in page["events"]] + seen
        token = page["nextBackwardToken"]
    # Then every event was seen exactly once, in order
    assert seen == [f"event {i}" for i in range(25)]

    # When reading forward from the head in pages, then new events arrive
    messages: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=7, **kwargs)
        if not page["events"]:
            # Then the forward token at the end is the same one again (how readers detect the end)
            assert page["nextForwardToken"] == token
            break
        messages += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
    assert messages == [f"event {i}" for i in range(25)]
    _put(logs, group, stream, ["late"], start + 1000)
    late = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token)
    assert [e["message"] for e in late["events"]] == ["late"]


def test_get_log_events_time_window(logs: Any) -> None:
    # Given events one second apart
    group, stream = _group(), "s"
    base = now_ms() - 60_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": base + i * 1000, "message": f"t{i}"} for i in range(6)],
    )
    # When reading [base+1s, base+4s)
    page = logs.get_log_events(
        logGroupName=group,
        logStreamName=stream,
        startTime=base + 1000,
        endTime=base + 4000,
        startFromHead=True,
    )
    # Then the start is inclusive and the end exclusive
    assert [e["message"] for e in page["events"]] == ["t1", "t2", "t3"]


def test_unknown_group_or_stream_is_resource_not_found_with_status_400(logs: Any) -> None:
    group = _group()
    # When reading a group that does not exist
    with pytest.raises(ClientError) as info:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    # Then botocore raises ResourceNotFoundException, answered 400 as CloudWatch does
    assert _error(info) == ("ResourceNotFoundException", 400)
    assert isinstance(info.value, logs.exceptions.ResourceNotFoundException)
    # And a missing stream in an existing group is not found either
    logs.create_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=_group())


def test_create_group_and_stream_and_duplicates(logs: Any) -> None:
    group = _group()
    # Given a created group and stream
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    # When either is created again
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=group)
    # Then the answer is ResourceAlreadyExistsException
    assert _error(info) == ("ResourceAlreadyExistsException", 400)
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName="a")
    # And a stream in a missing group is not found
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_stream(logGroupName=_group(), logStreamName="a")
    # And the new, empty stream reads as empty
    page = logs.get_log_events(logGroupName=group, logStreamName="a")
    assert page["events"] == []
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]


def test_put_rejects_unordered_batches_and_reports_too_old_and_too_new_events(logs: Any) -> None:
    group, stream = _group(), "s"
    now = now_ms()
    # When a batch is out of chronological order
    with pytest.raises(ClientError) as info:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 5, "message": "a"}],
        )
    # Then it is an InvalidParameterException
    assert _error(info) == ("InvalidParameterException", 400)
    # When one batch holds an event from 15 days ago and another an event 3 hours ahead
    day = 24 * 3600 * 1000
    too_old = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now - 15 * day, "message": "ancient"},
            {"timestamp": now - 15 * day + 1, "message": "ancient too"},
        ],
    )
    too_new = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now, "message": "kept"},
            {"timestamp": now + 3 * 3600 * 1000, "message": "future"},
        ],
    )
    # Then those are reported rejected and only the current one is stored
    assert too_old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    assert too_new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert [e["message"] for e in page["events"]] == ["kept"]


def test_filter_log_events_terms_streams_and_paging(logs: Any) -> None:
    # Given two streams with interleaved events
    group = _group()
    start = now_ms() - 10_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName="one",
        logEvents=[
            {"timestamp": start + 0, "message": "ERROR disk full"},
            {"timestamp": start + 2, "message": "INFO ok"},
            {"timestamp": start + 4, "message": "ERROR retrying later"},
        ],
    )
    logs.put_log_events(
        logGroupName=group,
        logStreamName="two",
        logEvents=[
            {"timestamp": start + 1, "message": "WARN slow disk"},
            {"timestamp": start + 3, "message": "error lowercase"},
        ],
    )
    # When filtering on a term
    errors = logs.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"]
    # Then matching is case-sensitive, across streams, in time order
    assert [(e["logStreamName"], e["message"]) for e in errors] == [
        ("one", "ERROR disk full"),
        ("one", "ERROR retrying later"),
    ]
    assert all(e["eventId"] for e in errors)
    # And exclusion, any-of, phrases and stream selection work as in CloudWatch
    assert [
        e["message"]
        for e in logs.filter_log_events(logGroupName=group, filterPattern="ERROR -retrying")["events"]
    ] == ["ERROR disk full"]
    assert [
        e["message"]
        for e in logs.filter_log_events(logGroupName=group, filterPattern="?WARN ?INFO")["events"]
    ] == ["WARN slow disk", "INFO ok"]
    assert [
        e["message"]
        for e in logs.filter_log_events(logGroupName=group, filterPattern='"disk full"')["events"]
    ] == ["ERROR disk full"]
    only_two = logs.filter_log_events(logGroupName=group, logStreamNames=["two"])["events"]
    assert [e["message"] for e in only_two] == ["WARN slow disk", "error lowercase"]
    # When paging two at a time with the paginator
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 2}
    )
    messages = [e["message"] for p in pages for e in p["events"]]
    # Then all five events come back once, in time order
    assert messages == [
        "ERROR disk full",
        "WARN slow disk",
        "INFO ok",
        "error lowercase",
        "ERROR retrying later",
    ]
    # And JSON patterns are refused rather than silently mismatched
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = 1 }")


def test_describe_log_streams_orders_and_pages(logs: Any) -> None:
    # Given three streams written at different times
    group = _group()
    base = now_ms() - 50_000
    for offset, name in ((3, "a"), (1, "b"), (2, "c")):
        logs.put_log_events(
            logGroupName=group, logStreamName=name, logEvents=[{"timestamp": base + offset, "message": name}]
        )
    # When listed by last event time, newest first, one per page
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=group, orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 1}
    )
    names = [s["logStreamName"] for p in pages for s in p["logStreams"]]
    # Then the order follows the events' times
    assert names == ["a", "c", "b"]
    # And by name with a prefix
    by_name = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b")["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["b"]
    assert by_name[0]["firstEventTimestamp"] == base + 1 == by_name[0]["lastEventTimestamp"]
