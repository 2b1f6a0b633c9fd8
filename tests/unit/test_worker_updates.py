"""Action updates the worker owes the farm: kept until a successful UpdateWorkerSchedule carried them."""

from __future__ import annotations

import datetime as dt

from botocore.session import Session

from farmhand.server.protocol import validate
from farmhand.worker._scheduler_loop import ActionUpdates
from farmhand.worker._session import signed_exit_code

A0, A1, A2 = (f"sessionaction-{'a' * 32}-{i}" for i in range(3))
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _request_shape() -> object:
    model = Session().get_service_model("deadline")
    return model.operation_model("UpdateWorkerSchedule").input_shape.members["updatedSessionActions"]


def test_completion_is_not_reopened_by_a_late_progress_report() -> None:
    updates = ActionUpdates()
    # Given an action that ran and completed
    updates.running("sa-0", started_at=START, progress=40, message="rendering")
    updates.completed("sa-0", "SUCCEEDED", started_at=START, ended_at=START, exit_code=0)
    # When openjd's last progress callback arrives after the completion
    updates.running("sa-0", started_at=START, progress=90)
    # Then the farm is still told it SUCCEEDED
    pending, _ = updates.snapshot()
    assert pending["sa-0"]["completedStatus"] == "SUCCEEDED"
    assert pending["sa-0"]["progressPercent"] == 100


def test_updates_leave_only_when_a_call_carrying_them_succeeded() -> None:
    updates = ActionUpdates()
    updates.running("sa-0", started_at=START, progress=10)
    updates.running("sa-1", started_at=START)
    # Given a snapshot sent to the farm
    _, versions = updates.snapshot()
    # When sa-0 changes while the call is in flight, and then the call succeeds
    updates.completed("sa-0", "FAILED", started_at=START, ended_at=START, exit_code=3, message="boom")
    updates.acknowledge(versions)
    # Then only the unchanged update is dropped; the completion is sent next time
    pending, _ = updates.snapshot()
    assert list(pending) == ["sa-0"]
    assert pending["sa-0"]["completedStatus"] == "FAILED"
    assert pending["sa-0"]["processExitCode"] == 3


def test_updates_are_valid_request_members_for_the_model() -> None:
    updates = ActionUpdates()
    updates.running(A0, started_at=START, progress=250.0, message="x" * 5000)
    updates.completed(A1, "NEVER_ATTEMPTED")
    updates.completed(A2, "FAILED", started_at=START, ended_at=START, exit_code=signed_exit_code(2**32 - 1))
    pending, _ = updates.snapshot()
    # Then progress is clamped, messages truncated, exit codes folded, and the map validates
    assert pending[A0]["progressPercent"] == 100
    assert len(pending[A0]["progressMessage"]) == 4096
    assert pending[A2]["processExitCode"] == -1
    assert "startedAt" not in pending[A1]
    validate(_request_shape(), pending)


def test_signed_exit_codes() -> None:
    assert signed_exit_code(0) == 0
    assert signed_exit_code(1) == 1
    assert signed_exit_code(-9) == -9
    assert signed_exit_code(2**31) == -(2**31)
