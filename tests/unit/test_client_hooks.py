"""Submission hooks run directly: output merging, failures, timeouts and malformed hook files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from farmhand.client.exceptions import DeadlineOperationError
from farmhand.client.job_bundle import Hook, read_hooks, run_hooks

METADATA = {"farmId": "farm-1", "queueId": "queue-1", "jobName": "J", "priority": 50, "jobBundleDir": "/b"}


def run(tmp_path: Path, phase: str, *hooks: Hook) -> tuple[dict[str, object], list[str]]:
    printed: list[str] = []
    changes = run_hooks(phase, [(tmp_path, hook) for hook in hooks], METADATA, printed.append)
    return changes, printed


def test_outputs_of_pre_hooks_accumulate(tmp_path: Path) -> None:
    first = Hook("bash", ["-c", "cat >/dev/null; echo '{\"priority\": 60}'"])
    echo_payload = "import json, sys; print(json.dumps({'seen': json.load(sys.stdin)['submissionPayload']}))"
    second = Hook(sys.executable, ["-c", echo_payload])
    changes, printed = run(tmp_path, "pre", first, second)
    assert changes == {"priority": 60, "seen": {"priority": 60}}
    assert printed[0].startswith("Running pre-submission hook [1]: bash -c")


def test_a_pre_hook_that_fails_or_hangs_stops_the_submission(tmp_path: Path) -> None:
    with pytest.raises(DeadlineOperationError, match=r"Pre-submission hook \[1\] failed with exit code 4"):
        run(tmp_path, "pre", Hook("bash", ["-c", "echo broken >&2; exit 4"]))
    with pytest.raises(DeadlineOperationError, match=r"Pre-submission hook \[1\] timed out after 0.3s"):
        run(tmp_path, "pre", Hook("sleep", ["5"], timeout=0.3))
    with pytest.raises(DeadlineOperationError, match=r"could not start"):
        run(tmp_path, "pre", Hook("no-such-command-anywhere"))


def test_a_failing_post_hook_is_only_reported(tmp_path: Path) -> None:
    changes, printed = run(tmp_path, "post", Hook("false"))
    assert changes == {}
    assert printed[-1] == "Post-submission hook [1] failed with exit code 1: false"


def test_hook_environment(tmp_path: Path) -> None:
    hook = Hook(
        "bash",
        ["-c", 'cat >/dev/null; echo "{\\"seen\\": \\"$DEADLINE_FARM_ID $EXTRA\\"}"'],
        env={"EXTRA": "x"},
    )
    changes, _ = run(tmp_path, "pre", hook)
    assert changes == {"seen": "farm-1 x"}


def test_malformed_hook_files(tmp_path: Path) -> None:
    assert read_hooks(tmp_path) is None
    (tmp_path / "hooks.yaml").write_text("preSubmission:\n- args: [x]\n")
    with pytest.raises(DeadlineOperationError, match="needs a 'command'"):
        read_hooks(tmp_path)
    (tmp_path / "hooks.yaml").write_text("preSubmission:\n- command: echo\n  timeout: 5\n")
    hooks = read_hooks(tmp_path)
    assert hooks is not None and hooks.pre_submission == [Hook("echo", [], 5.0, {})]
