"""Pure pieces of the CLI: parameter parsing, error lines, status summaries, JSON output."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ProfileNotFound

from farmhand.client.api._logs import LogEvent
from farmhand.client.cli._bundle import parse_parameter_assignments, read_parameter_file
from farmhand.client.cli._errors import CliUsageError, describe_error
from farmhand.client.cli._output import jsonable, task_parameters_text
from farmhand.client.cli._waiting import describe_counts
from farmhand.client.cli._why import _before_next_action, session_id_of
from farmhand.client.exceptions import DeadlineOperationError


def test_parameter_assignments_keep_everything_after_the_first_equals() -> None:
    assert parse_parameter_assignments(("A=1", "Expr=x=y", "Empty=")) == [
        {"name": "A", "value": "1"},
        {"name": "Expr", "value": "x=y"},
        {"name": "Empty", "value": ""},
    ]


@pytest.mark.parametrize("bad", ["NoEquals", "=value", " =x"])
def test_parameter_assignment_without_a_name_is_a_usage_error(bad: str) -> None:
    with pytest.raises(CliUsageError) as info:
        parse_parameter_assignments((bad,))
    assert info.value.exit_code == 2
    assert "is not Name=Value" in info.value.message


def test_parameter_files_in_both_shapes(tmp_path: Path) -> None:
    mapping = tmp_path / "values.yaml"
    mapping.write_text("Frames: 1-5\nWidth: 64\n")
    listed = tmp_path / "values.json"
    listed.write_text('{"parameterValues": [{"name": "Frames", "value": "2-3"}]}')
    assert read_parameter_file(mapping) == [
        {"name": "Frames", "value": "1-5"},
        {"name": "Width", "value": 64},
    ]
    assert read_parameter_file(listed) == [{"name": "Frames", "value": "2-3"}]


def test_unreadable_parameter_file_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CliUsageError) as info:
        read_parameter_file(broken)
    assert "\n" not in info.value.message and "cannot be read" in info.value.message


def test_client_errors_become_one_line_with_operation_and_code() -> None:
    error = ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": "farm-1 not found"}}, "GetFarm"
    )
    assert describe_error(error) == "GetFarm failed: farm-1 not found [ResourceNotFoundException]"


def test_validation_field_list_is_named() -> None:
    error = ClientError(
        {
            "Error": {"Code": "ValidationException", "Message": "Invalid request"},
            "fieldList": [{"name": "priority", "message": "must be at most 100"}],
        },
        "CreateJob",
    )
    assert describe_error(error) == (
        "CreateJob failed: Invalid request (priority: must be at most 100) [ValidationException]"
    )


def test_library_and_botocore_errors_have_advice() -> None:
    assert describe_error(DeadlineOperationError("line one\nline two")) == "line one line two"
    assert "'ghost' does not exist" in str(describe_error(ProfileNotFound(profile="ghost")))
    unreachable = describe_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"))
    assert unreachable is not None and unreachable.startswith("Could not reach the farm")
    assert describe_error(KeyError("bug")) is None


def test_counts_summary() -> None:
    assert describe_counts({"SUCCEEDED": 3, "FAILED": 1, "RUNNING": 2, "READY": 4}) == (
        "3/10 succeeded, 1 failed, 2 running"
    )
    assert describe_counts({}) == "0/0 succeeded"


def test_session_of_a_session_action() -> None:
    assert session_id_of("sessionaction-abc123-4") == "session-abc123"
    assert session_id_of("sessionaction-abc-def-12") == "session-abc-def"
    assert session_id_of(None) is None
    assert session_id_of("session-abc") is None


def test_task_parameters_and_json_values() -> None:
    assert (
        task_parameters_text({"Frame": {"int": "3"}, "Camera": {"string": "left"}}) == "Camera=left Frame=3"
    )
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert jsonable({"at": moment, "ResponseMetadata": {}, "items": [moment]}) == {
        "at": "2026-01-02T03:04:05+00:00",
        "items": ["2026-01-02T03:04:05+00:00"],
    }


def test_transfer_bars_show_on_a_terminal_and_skip_instant_completions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from farmhand.client.cli import _output
    from farmhand.client.cli._transfer_progress import TransferProgress

    # Given stderr is a terminal
    screen = io.StringIO()
    monkeypatch.setitem(_output._consoles, "err", Console(file=screen, force_terminal=True, width=100))
    # When hashing reports progress, and uploading reports "done" at once
    with TransferProgress() as progress:
        for percent in (0.0, 50.0, 100.0):
            assert progress.hashing(SimpleNamespace(progress=percent, progressMessage=f"Hashed {percent}%"))
        assert progress.uploading(SimpleNamespace(progress=100.0, progressMessage="No files to upload"))
    # Then a hashing bar was drawn and no uploading bar
    drawn = screen.getvalue()
    assert "Hashing" in drawn and "Hashed 100.0%" in drawn
    assert "Uploading" not in drawn


def test_transfer_bars_are_silent_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from farmhand.client.cli import _output
    from farmhand.client.cli._transfer_progress import TransferProgress

    screen = io.StringIO()
    monkeypatch.setitem(_output._consoles, "err", Console(file=screen, force_terminal=False))
    with TransferProgress() as progress:
        assert progress.hashing(SimpleNamespace(progress=10.0, progressMessage="Hashed 1 file"))
    assert screen.getvalue() == ""


def test_multi_line_service_messages_are_folded_into_one_line() -> None:
    message = "template: 1 validation errors for JobTemplate\nsteps[0]:\n\tMust specify either 'script'"
    error = ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "CreateJob")
    assert describe_error(error) == (
        "CreateJob failed: template: 1 validation errors for JobTemplate steps[0]: "
        "Must specify either 'script' [ValidationException]"
    )


def _events(*lines: tuple[int, str]) -> list[LogEvent]:
    return [LogEvent(datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC), message) for second, message in lines]


def test_a_failed_actions_log_tail_stops_before_the_sessions_next_action() -> None:
    # Given the log window of a session's first action, which failed at 0:00:05: the session's
    # opening lines, the task's banner and output, then the cleanup the session went on to
    window = _events(
        (1, "Session Working Directory: /tmp/session"),
        (1, ""),
        (1, "=============================================="),
        (1, "--------- Running Task"),
        (1, "=============================================="),
        (2, "working on item 2"),
        (4, "corrupt input file"),
        (5, "Process exited with code: 3"),
        (6, ""),
        (6, "=============================================="),
        (6, "--------- Session Cleanup"),
        (6, "=============================================="),
        (6, "Deleting working directory"),
    )
    ended = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    # Then the tail keeps the task's own lines, not the cleanup's
    kept = [e.message for e in _before_next_action(window, ended)]
    assert kept[-2:] == ["corrupt input file", "Process exited with code: 3"]
    assert "--------- Running Task" in kept and "--------- Session Cleanup" not in kept
    # And without the action's end nothing is cut
    assert len(_before_next_action(window, None)) == len(window)
