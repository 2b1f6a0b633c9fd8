"""Session action order (spec §5.6) and poll timing (pure)."""

from __future__ import annotations

from farmhand.server.scheduler import (
    SessionStep,
    closing_actions,
    opening_actions,
    update_interval,
    worker_timeout,
)


def test_a_session_opens_with_the_input_syncs_then_the_job_and_step_environments() -> None:
    step = SessionStep("step-2", ["STEP:step-2:E"], has_dependencies=True)
    assert opening_actions(["JOB:j:Q", "JOB:j:J"], step, has_attachments=True) == [
        {"syncInputJobAttachments": {}},
        {"envEnter": {"environmentId": "JOB:j:Q"}},
        {"envEnter": {"environmentId": "JOB:j:J"}},
        {"syncInputJobAttachments": {"stepId": "step-2"}},
        {"envEnter": {"environmentId": "STEP:step-2:E"}},
    ]
    plain = SessionStep("step-1", [], has_dependencies=False)
    assert opening_actions([], plain, has_attachments=True) == [{"syncInputJobAttachments": {}}]
    assert opening_actions([], step, has_attachments=False) == [
        {"envEnter": {"environmentId": "STEP:step-2:E"}}
    ]


def test_a_session_ends_by_exiting_everything_last_entered_first() -> None:
    assert closing_actions(["JOB:j:Q", "STEP:s:E"]) == [
        {"envExit": {"environmentId": "STEP:s:E"}},
        {"envExit": {"environmentId": "JOB:j:Q"}},
    ]


def test_poll_interval_is_never_zero_and_the_timeout_spans_several_polls() -> None:
    assert update_interval(busy=True) == 1
    assert update_interval(busy=False, idle_interval=0) == 1
    assert update_interval(busy=False, idle_interval=5) == 5
    assert worker_timeout(None) == 60.0
    assert worker_timeout(None, idle_interval=30) == 150.0
    assert worker_timeout(3) == 3.0
