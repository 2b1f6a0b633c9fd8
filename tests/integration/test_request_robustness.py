"""Bad requests get a 4xx with the AWS error code and a message, never a 5xx, on SQLite and
PostgreSQL; the server keeps serving. One regression case per class the fuzzer found."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _signed_requests import Answer, send, send_deadline, send_logs
from _synthetic_workers import SyntheticWorker, drive, farm_with_fleet, job_template, step, submit

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)

DEEP = 3000


@pytest.fixture
def serving(server_any: ServerProcess) -> Iterator[ServerProcess]:
    """The store-parametrised server; after each bad request a good one still succeeds."""
    yield server_any
    deadline = server_any.client("deadline")
    farm_id = deadline.create_farm(displayName="still serving")["farmId"]
    assert deadline.get_farm(farmId=farm_id)["displayName"] == "still serving"


@pytest.fixture
def farm(serving: ServerProcess) -> dict[str, str]:
    deadline = serving.client("deadline")
    farm_id = deadline.create_farm(displayName="robustness")["farmId"]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="q")["queueId"]
    return {"farmId": farm_id, "queueId": queue_id}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_refused(answer: Answer, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code), answer.body[:300]
    assert answer.json().get("message")


def test_json_nested_thousands_of_levels_is_a_parse_error_on_every_protocol(serving: ServerProcess) -> None:
    # Given bodies nested 3,000 levels deep (Python's parser gives up at ~1,000)
    body = ('{"displayName": "deep", "description": ' + nested(DEEP) + "}").encode()
    # Then Deadline answers ValidationException (CANNOT_PARSE), Logs SerializationException
    answer = send_deadline(serving, "POST", "/2023-10-12/farms", body)
    assert_refused(answer, 400, "ValidationException")
    assert answer.json()["reason"] == "CANNOT_PARSE"
    answer = send_logs(
        serving, "DescribeLogGroups", ('{"logGroupNamePrefix": ' + nested(DEEP) + "}").encode()
    )
    assert_refused(answer, 400, "SerializationException")
    # And nesting the parser accepts but the serving would recurse on is refused as well
    answer = send_deadline(
        serving, "POST", "/2023-10-12/farms", ('{"displayName": ' + nested(500) + "}").encode()
    )
    assert_refused(answer, 400, "ValidationException")
    assert "nested more than" in answer.json()["message"]
    # And the unsigned telemetry route keeps it as text without failing
    answer = send_deadline(serving, "POST", "/2023-10-12/telemetry", nested(DEEP).encode(), sign=False)
    assert answer.status == 200


def test_batch_gets_of_sessions_and_session_actions_answer_valid_input(serving: ServerProcess) -> None:
    # Given a job whose two tasks a worker ran, in one session
    deadline = serving.client("deadline")
    farm_id, queue_id, fleet_id = farm_with_fleet(deadline)
    job_id = submit(deadline, farm_id, queue_id, job_template(step("Frames", tasks=2)))
    worker = SyntheticWorker(serving, farm_id, fleet_id)
    drive([worker], lambda: len(worker.task_runs()) == 2)
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    sessions = [s["sessionId"] for s in deadline.list_sessions(**ids)["sessions"]]
    actions = [a["sessionActionId"] for a in deadline.list_session_actions(**ids)["sessionActions"]]
    unknown_session = "session-" + "0" * 32
    # When both batch calls name them (and one id that does not exist)
    got_sessions = deadline.batch_get_session(
        identifiers=[{**ids, "sessionId": s} for s in [*sessions, unknown_session]]
    )
    got_actions = deadline.batch_get_session_action(
        identifiers=[{**ids, "sessionActionId": a} for a in [*actions, "sessionaction-" + "0" * 32 + "-0"]]
    )
    # Then every item comes back with its farm, queue and job, and the unknown ones as errors
    assert sorted(s["sessionId"] for s in got_sessions["sessions"]) == sorted(sessions)
    assert {(s["farmId"], s["queueId"], s["jobId"]) for s in got_sessions["sessions"]} == {
        (farm_id, queue_id, job_id)
    }
    assert [e["sessionId"] for e in got_sessions["errors"]] == [unknown_session]
    assert sorted(a["sessionActionId"] for a in got_actions["sessionActions"]) == sorted(actions)
    assert len(actions) >= 2 and len(got_actions["errors"]) == 1


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("missing", b'{"keys": ' + nested(DEEP).encode() + b"}", "MalformedRequest"),
        ("get", b'{"keys": ' + nested(500).encode() + b"}", "MalformedRequest"),
        ("missing", b'{"keys": ["Fuzz/Data/\\udfff"]}', "MalformedRequest"),
        ("get", json.dumps({"keys": ["Fuzz/" + "k" * 70000]}).encode(), "KeyTooLongError"),
        ("missing", json.dumps({"keys": ["Fuzz/../../etc/passwd"]}).encode(), "InvalidArgument"),
    ],
)
def test_the_attachment_batch_endpoint_refuses_bodies_it_cannot_answer(
    serving: ServerProcess, operation: str, body: bytes, code: str
) -> None:
    # Given a bucket of the farm's object store (the store-parametrised server is shared)
    s3 = serving.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="robust-batches")
    # When a batch call's body is nested too deep, holds text that is not Unicode, or names a key
    # no object could have (too long to frame in the answer, a path escape)
    answer = send(
        serving,
        "POST",
        "/robust-batches",
        body,
        service="s3",
        query=[("x-farmhand-batch", operation)],
        headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()},
    )
    # Then it is a 400 naming what is wrong, and the endpoint still answers good calls
    assert (answer.status, answer.json()["code"]) == (400, code), answer.body[:300]
    keys = json.dumps({"keys": ["Fuzz/Data/" + "0" * 32 + ".xxh128"]}).encode()
    good = send(
        serving,
        "POST",
        "/robust-batches",
        keys,
        service="s3",
        query=[("x-farmhand-batch", "missing")],
        headers={"X-Amz-Content-SHA256": hashlib.sha256(keys).hexdigest()},
    )
    assert good.status == 200 and good.json()["missing"] == ["Fuzz/Data/" + "0" * 32 + ".xxh128"]


def send_page(
    server: ServerProcess, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> int:
    """A browser-like request to the farm's web surfaces (headers as raw latin-1 bytes)."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": parts.netloc, **headers}.items():
            connection.putheader(name, value.encode("latin-1"))
        if method == "POST":
            connection.putheader("Content-Type", "application/x-www-form-urlencoded")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body if method == "POST" else None)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        # An Origin that is not a URL (urlsplit refuses "http://[")
        ("POST", "/signout", {"Origin": "http://[", "Cookie": "farmhand_csrf=c"}, b"csrf=c"),
        (
            "GET",
            "/2023-10-12/farms",
            {"Origin": "http://[", "Cookie": "farmhand_csrf=c", "x-farmhand-csrf": "c"},
            b"",
        ),
        # CSRF tokens that are not ASCII, in the form or the monitor's header
        ("POST", "/signin", {"Cookie": "farmhand_csrf=c"}, b"csrf=%C3%A9&user_name=a&password=b"),
        ("GET", "/2023-10-12/farms", {"Cookie": "farmhand_csrf=c", "x-farmhand-csrf": "\u00e9"}, b""),
    ],
)
def test_web_pages_refuse_origins_and_csrf_tokens_they_cannot_compare(
    serving: ServerProcess, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    # When a sign-in form or a monitor API call carries them, Then it is refused (403), not a 500
    assert send_page(serving, method, path, headers, body) == 403


@pytest.mark.parametrize(
    "user_name",
    [b"fuzzer%00", b"x" * 70000, b"fhrt." + b"9" * 5000, b"%5B" * 300],
    ids=["nul", "70000 characters", "5000 characters", "brackets"],
)
def test_the_sign_in_form_refuses_user_names_the_api_would(serving: ServerProcess, user_name: bytes) -> None:
    # When the sign-in form names a user no account could have (NUL, longer than the column)
    form = b"csrf=c&password=secret&user_name=" + user_name
    status = send_page(serving, "POST", "/signin", {"Cookie": "farmhand_csrf=c"}, form)
    # Then it is the API's own refusal (400), on PostgreSQL as on SQLite, not a 500
    assert status == 400


@pytest.mark.parametrize(
    ("path", "member"),
    [
        ("search", "filterExpressions.filters[0].dateTimeFilter.dateTime"),
        ("budget", "schedule.fixed.startTime"),
    ],
)
def test_out_of_range_timestamps_are_validation_errors(
    serving: ServerProcess, farm: dict[str, str], path: str, member: str
) -> None:
    if path == "search":
        body = {
            "queueIds": [farm["queueId"]],
            "itemOffset": 0,
            "filterExpressions": {
                "filters": [
                    {"dateTimeFilter": {"name": "CREATED_AT", "operator": "LESS_THAN", "dateTime": 1e20}}
                ],
                "operator": "AND",
            },
        }
        url = f"/2023-10-12/farms/{farm['farmId']}/search/jobs"
    else:
        body = {
            "usageTrackingResource": {"queueId": farm["queueId"]},
            "displayName": "b",
            "approximateDollarLimit": 1.0,
            "actions": [{"type": "STOP_SCHEDULING_AND_COMPLETE_TASKS", "thresholdPercentage": 50}],
            "schedule": {"fixed": {"startTime": 1e20, "endTime": "2030-01-01T00:00:00Z"}},
        }
        url = f"/2023-10-12/farms/{farm['farmId']}/budgets"
    answer = send_deadline(serving, "POST", url, json.dumps(body).encode())
    assert_refused(answer, 400, "ValidationException")
    assert answer.json()["fieldList"][0]["name"] == member


def test_forged_paging_tokens_are_refused_on_lists_and_logs(
    serving: ServerProcess, farm: dict[str, str]
) -> None:
    forged = base64.urlsafe_b64encode(b"[{}, -1]").decode().rstrip("=")
    # Deadline List*: a ValidationException naming nextToken
    for path in ("/2023-10-12/farms", f"/2023-10-12/farms/{farm['farmId']}/queues"):
        answer = send_deadline(serving, "GET", path, query=[("nextToken", forged)])
        assert_refused(answer, 400, "ValidationException")
        assert answer.json()["fieldList"][0]["name"] == "nextToken"
    # Logs: FilterLogEvents and GetLogEvents answer InvalidParameterException
    logs = serving.client("logs")
    logs.create_log_group(logGroupName="/forged")
    logs.create_log_stream(logGroupName="/forged", logStreamName="s")
    for operation, body in (
        ("FilterLogEvents", {"logGroupName": "/forged", "nextToken": forged}),
        ("GetLogEvents", {"logGroupName": "/forged", "logStreamName": "s", "nextToken": f"f/{forged}"}),
        (
            "GetLogEvents",
            {"logGroupName": "/forged", "logStreamName": "s", "nextToken": "f/99999999999999999999/0"},
        ),
    ):
        answer = send_logs(serving, operation, json.dumps(body).encode())
        assert answer.status == 400 and answer.code in ("ValidationException", "InvalidParameterException")


def test_integers_beyond_64_bits_in_log_times_are_refused(serving: ServerProcess) -> None:
    logs = serving.client("logs")
    logs.create_log_group(logGroupName="/huge")
    for member in ("startTime", "endTime"):
        body = json.dumps({"logGroupName": "/huge", member: 2**63}).encode()
        answer = send_logs(serving, "FilterLogEvents", body)
        assert_refused(answer, 400, "ValidationException")
        assert member in answer.json()["message"]


def test_lone_surrogates_are_refused_in_any_string(serving: ServerProcess) -> None:
    answer = send_deadline(serving, "POST", "/2023-10-12/farms", b'{"displayName": "bad \\udfff"}')
    assert_refused(answer, 400, "ValidationException")
    assert "surrogate" in answer.json()["message"]
    answer = send_logs(serving, "CreateLogGroup", b'{"logGroupName": "/x\\ud800"}')
    assert_refused(answer, 400, "SerializationException")


def test_nul_characters_and_over_long_tags_are_refused_alike_on_both_stores(serving: ServerProcess) -> None:
    answer = send_deadline(serving, "POST", "/2023-10-12/farms", b'{"displayName": "nul\\u0000"}')
    assert_refused(answer, 400, "ValidationException")
    assert "NUL" in answer.json()["message"]
    for tags in ({"k" * 129: "v"}, {"k": "v" * 257}, {"": "v"}, {f"k{i}": "v" for i in range(51)}):
        body = json.dumps({"displayName": "tagged", "tags": tags}).encode()
        answer = send_deadline(serving, "POST", "/2023-10-12/farms", body)
        assert_refused(answer, 400, "ValidationException")


def test_a_log_line_with_nul_is_kept_with_a_replacement_character(serving: ServerProcess) -> None:
    logs = serving.client("logs")
    logs.create_log_group(logGroupName="/nul")
    logs.create_log_stream(logGroupName="/nul", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/nul", logStreamName="s", logEvents=[{"timestamp": now, "message": "before\x00after"}]
    )
    events = logs.get_log_events(logGroupName="/nul", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["before\ufffdafter"]


def test_a_busy_store_is_throttling_on_the_logs_api_too(tmp_path: Path) -> None:
    """SQLite locked by another process for longer than the server waits (30 s): Logs calls answer
    ThrottlingException, as Deadline calls do, and succeed once the lock is gone."""
    import sqlite3

    with ServerProcess(tmp_path / "farm") as busy:
        logs = busy.client("logs", retries={"max_attempts": 1})
        holder = sqlite3.connect(tmp_path / "farm" / "farmhand.db", timeout=1)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            answer = send_logs(busy, "CreateLogGroup", b'{"logGroupName": "/busy"}')
            # (the Logs model gives ThrottlingException no status of its own: awsJson answers 400)
            assert_refused(answer, 400, "ThrottlingException")
        finally:
            holder.rollback()
            holder.close()
        logs.create_log_group(logGroupName="/busy")


def test_a_body_shorter_than_its_content_length_is_timed_out(tmp_path: Path) -> None:
    """A client announcing 100,000 bytes and sending 10 does not hold the connection for ever."""
    with ServerProcess(tmp_path / "farm", extra_args=["--body-read-timeout", "2"]) as server:
        parts = urlsplit(server.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as raw:
            raw.sendall(
                b"POST /2023-10-12/farms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100000\r\n\r\n{"display'
            )
            started = time.monotonic()
            # Meanwhile the server keeps serving others
            assert server.client("deadline").list_farms()["farms"] == []
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"RequestTimeoutException" in answer
        assert waited < 25  # answered (and closed) after the 2 s timeout, not when the client gave up


def test_a_body_swapped_after_signing_is_refused(serving: ServerProcess) -> None:
    # Given a CreateFarm signed with the hash of one body in X-Amz-Content-SHA256
    signed = b'{"displayName": "honest"}'
    swapped = b'{"displayName": "forged"}'
    header = {"X-Amz-Content-SHA256": hashlib.sha256(signed).hexdigest()}
    # When another body of the same length is sent with that signature
    answer = send_deadline(serving, "POST", "/2023-10-12/farms", signed, headers=header, sent_body=swapped)
    # Then the signature does not cover it: 403, and nothing was created
    assert answer.status == 403 and answer.code == "InvalidSignatureException"
    names = [f["displayName"] for f in serving.client("deadline").list_farms()["farms"]]
    assert "forged" not in names
    # And the unchanged request is accepted
    assert send_deadline(serving, "POST", "/2023-10-12/farms", signed, headers=header).status == 200


@pytest.mark.parametrize("declared", ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "0" * 64])
def test_unsigned_or_wrong_payload_hashes_are_refused_outside_s3(
    serving: ServerProcess, declared: str
) -> None:
    header = {"X-Amz-Content-SHA256": declared}
    body = b'{"displayName": "unsigned"}'
    answer = send_deadline(serving, "POST", "/2023-10-12/farms", body, headers=header)
    assert (answer.status, answer.code) == (403, "InvalidSignatureException")
    logs = send_logs_with(serving, "DescribeLogGroups", b"{}", header)
    assert (logs.status, logs.code) == (403, "InvalidSignatureException")
    sts = send_sts_with(serving, header)
    assert (sts.status, sts.code) == (403, "SignatureDoesNotMatch")


def send_logs_with(server: ServerProcess, operation: str, body: bytes, extra: dict[str, str]) -> Answer:
    from _signed_requests import LOGS_TARGET, send

    headers = {
        "X-Amz-Target": f"{LOGS_TARGET}.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
        **extra,
    }
    return send(server, "POST", "/", body, service="logs", headers=headers)


def send_sts_with(server: ServerProcess, extra: dict[str, str]) -> Answer:
    from _signed_requests import send

    headers = {"Content-Type": "application/x-www-form-urlencoded", **extra}
    return send(
        server, "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", service="sts", headers=headers
    )


def test_a_job_beyond_the_task_limit_is_refused_without_writing_tasks(
    serving: ServerProcess, farm: dict[str, str]
) -> None:
    template = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "too big",
        "steps": [
            {
                "name": "Frames",
                "parameterSpace": {
                    "taskParameterDefinitions": [{"name": "F", "type": "INT", "range": "1-1000000000"}]
                },
                "script": {"actions": {"onRun": {"command": "echo"}}},
            }
        ],
    }
    deadline = serving.client("deadline")
    with pytest.raises(deadline.exceptions.ValidationException) as refused:
        deadline.create_job(**farm, priority=50, template=json.dumps(template), templateType="JSON")
    assert "1,000,000 tasks" in refused.value.response["Error"]["Message"]
    assert deadline.list_jobs(**farm)["jobs"] == []


def test_telemetry_is_bounded_in_size_and_rate(serving: ServerProcess) -> None:
    # An event over 64 KiB is refused as too large
    answer = send_deadline(serving, "POST", "/2023-10-12/telemetry", b"x" * (65 * 1024), sign=False)
    assert (answer.status, answer.code) == (413, "RequestEntityTooLargeException")
    # A burst beyond the per-source rate is throttled
    statuses = [
        send_deadline(serving, "POST", "/2023-10-12/telemetry", b'{"event": "burst"}', sign=False).status
        for _ in range(80)
    ]
    assert 429 in statuses and statuses.count(200) >= 50
