"""One worker session driving real openjd-sessions subprocesses, its log shipped to a real farm server.

The job entities are handed to the session directly (as BatchGetJobEntity would return them), so
these tests exercise the session rules on their own: order, failure, cancel, interrupt, end.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from farmhand.testing import ServerProcess
from farmhand.worker._config import WorkerConfig
from farmhand.worker._entities import JobEntities
from farmhand.worker._session import SessionAction, SessionContext, WorkerSession

pytestmark = pytest.mark.timeout(120)

JOB = "job-" + "a" * 32
SCHEMA = "jobtemplate-2023-09"


class RecordingReporter:
    """Collects what the session reports, as the scheduler loop's update book would send it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.completed_actions: dict[str, dict[str, Any]] = {}
        self.progress: dict[str, list[tuple[float | None, str | None]]] = {}
        self.order: list[str] = []
        self.wakes: list[str | None] = []  # the last completed action each time the loop was woken

    def running(
        self,
        action_id: str,
        *,
        started_at: dt.datetime,
        progress: float | None = None,
        message: str | None = None,
    ) -> None:
        with self.lock:
            self.progress.setdefault(action_id, []).append((progress, message))

    def completed(self, action_id: str, status: str, **details: Any) -> None:
        with self.lock:
            self.completed_actions[action_id] = {"status": status, **details}
            self.order.append(action_id)

    def status(self, action_id: str) -> str | None:
        with self.lock:
            entry = self.completed_actions.get(action_id)
            return None if entry is None else str(entry["status"])

    def wait_for(self, action_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if action_id in self.completed_actions:
                    return self.completed_actions[action_id]
            time.sleep(0.02)
        raise AssertionError(f"{action_id} never completed; got {self.completed_actions}")


def script_step(
    step_id: str, command: str, *, timeout: int | None = None, notify_seconds: int | None = None
) -> dict[str, Any]:
    on_run: dict[str, Any] = {"command": "bash", "args": ["{{Task.File.Run}}"]}
    if timeout:
        on_run["timeout"] = timeout
    if notify_seconds:
        on_run["cancelation"] = {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": notify_seconds}
    return {
        "stepDetails": {
            "jobId": JOB,
            "stepId": step_id,
            "schemaVersion": SCHEMA,
            "template": {
                "name": step_id,
                "parameterSpace": {
                    "taskParameterDefinitions": [{"name": "N", "type": "INT", "range": "1-100"}]
                },
                "script": {
                    "actions": {"onRun": on_run},
                    "embeddedFiles": [{"name": "Run", "type": "TEXT", "data": command}],
                },
            },
        }
    }


def environment(env_id: str, marker: Path) -> dict[str, Any]:
    return {
        "environmentDetails": {
            "jobId": JOB,
            "environmentId": env_id,
            "schemaVersion": SCHEMA,
            "template": {
                "name": "Marker",
                "script": {
                    "actions": {
                        "onEnter": {"command": "bash", "args": ["-c", f"echo entered >> {marker}"]},
                        "onExit": {"command": "bash", "args": ["-c", f"echo exited >> {marker}"]},
                    }
                },
                "variables": {"FARMHAND_TEST_VAR": "from-environment"},
            },
        }
    }


def task(action_id: str, step_id: str, n: int) -> SessionAction:
    return SessionAction(
        action_id,
        {"taskRun": {"stepId": step_id, "taskId": f"task-{n}", "parameters": {"N": {"int": str(n)}}}},
    )


@pytest.fixture
def make_session(server: ServerProcess, tmp_path: Path) -> Iterator[Any]:
    logs = server.client("logs")
    made: list[WorkerSession] = []

    def make(
        entities: list[dict[str, Any]], **job_details: Any
    ) -> tuple[WorkerSession, RecordingReporter, str]:
        reporter = RecordingReporter()
        config = WorkerConfig(
            farm_id="farm-" + "b" * 32, fleet_id="fleet-" + "c" * 32, data_dir=tmp_path / "w"
        )
        config.prepare()
        context = SessionContext(
            config=config,
            worker_id="worker-" + "d" * 32,
            deadline=None,
            logs=logs,
            reporter=reporter,
            wake=lambda: reporter.wakes.append(reporter.order[-1] if reporter.order else None),
        )
        session_id = "session-" + uuid.uuid4().hex
        primed = JobEntities(
            None, farm_id=config.farm_id, fleet_id=config.fleet_id, worker_id=context.worker_id, job_id=JOB
        )
        primed.prime(
            [
                {
                    "jobDetails": {
                        "jobId": JOB,
                        "logGroupName": "/aws/deadline/unit/queue",
                        "schemaVersion": SCHEMA,
                        **job_details,
                    }
                },
                *entities,
            ]
        )
        session = WorkerSession(
            context,
            session_id=session_id,
            queue_id="queue-" + "e" * 32,
            job_id=JOB,
            log_configuration={
                "logDriver": "awslogs",
                "options": {"logGroupName": "/aws/deadline/unit/queue", "logStreamName": session_id},
                "parameters": {},
            },
            entities=primed,
        )
        made.append(session)
        return session, reporter, session_id

    yield make
    for session in made:
        session.end()
        session.join(30)


def session_log(server: ServerProcess, session_id: str) -> str:
    page = server.client("logs").get_log_events(
        logGroupName="/aws/deadline/unit/queue", logStreamName=session_id, startFromHead=True
    )
    return "\n".join(e["message"] for e in page["events"])


def test_actions_run_in_order_inside_entered_environments(
    make_session: Any, server: ServerProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    session, reporter, session_id = make_session(
        [
            environment("env-1", marker),
            script_step("step-1", 'echo "task $((({{Task.Param.N}} * 7))) $FARMHAND_TEST_VAR"'),
        ]
    )
    # Given a session with an environment, two tasks and the environment's exit
    actions = [
        SessionAction("a-0", {"envEnter": {"environmentId": "env-1"}}),
        task("a-1", "step-1", 1),
        task("a-2", "step-1", 2),
    ]
    session.assign(actions)
    session.start()
    reporter.wait_for("a-2")
    # When the farm appends the exit (restating the pending list, as every answer does)
    session.assign([SessionAction("a-3", {"envExit": {"environmentId": "env-1"}})])
    reporter.wait_for("a-3")
    # Then everything succeeded in order, tasks saw the environment, and the log reached the farm
    assert reporter.order == ["a-0", "a-1", "a-2", "a-3"]
    assert {reporter.status(a) for a in reporter.order} == {"SUCCEEDED"}
    assert reporter.completed_actions["a-1"]["exit_code"] == 0
    assert marker.read_text().split() == ["entered", "exited"]
    session.end()
    session.join(30)
    log = session_log(server, session_id)
    assert "task 7 from-environment" in log
    assert "task 14 from-environment" in log


def test_after_a_failure_only_environment_exits_run(make_session: Any, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    session, reporter, _ = make_session(
        [
            environment("env-1", marker),
            script_step("step-1", 'echo "n={{Task.Param.N}}"; exit {{Task.Param.N}}'),
        ]
    )
    # Given a queue where the first task exits 3
    session.assign(
        [
            SessionAction("a-0", {"envEnter": {"environmentId": "env-1"}}),
            task("a-1", "step-1", 3),
            task("a-2", "step-1", 0),
            SessionAction("a-3", {"envExit": {"environmentId": "env-1"}}),
        ]
    )
    session.start()
    # Then it FAILED with its exit code, the next task was never attempted, and the exit still ran
    assert reporter.wait_for("a-1")["status"] == "FAILED"
    assert reporter.completed_actions["a-1"]["exit_code"] == 3
    assert reporter.wait_for("a-2")["status"] == "NEVER_ATTEMPTED"
    assert reporter.wait_for("a-3")["status"] == "SUCCEEDED"
    assert marker.read_text().split() == ["entered", "exited"]


def _wait_for_pids(pid_file: Path) -> list[psutil.Process]:
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    procs = [psutil.Process(int(p)) for p in pid_file.read_text().split()]
    return procs + [c for p in procs for c in p.children(recursive=True)]


TREE = (
    "sleep 300 & a=$!\n"
    "bash -c 'sleep 300 & wait' & b=$!\n"
    'echo "$$ $a $b" > {pids}.tmp; mv {pids}.tmp {pids}\n'
    "wait\n"
)


def test_cancel_kills_the_whole_process_tree(make_session: Any, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    session, reporter, _ = make_session([script_step("step-1", TREE.format(pids=pid_file))])
    session.assign([task("a-0", "step-1", 1), task("a-1", "step-1", 2)])
    session.start()
    tree = _wait_for_pids(pid_file)
    # When the farm cancels the running action
    session.cancel({"a-0"})
    # Then it is CANCELED, every process of its tree is gone, and the queued task never ran
    assert reporter.wait_for("a-0")["status"] == "CANCELED"
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive
    assert reporter.wait_for("a-1")["status"] == "NEVER_ATTEMPTED"


def test_interrupt_reports_interrupted_and_never_attempted(make_session: Any, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    session, reporter, _ = make_session([script_step("step-1", TREE.format(pids=pid_file))])
    session.assign([task("a-0", "step-1", 1), task("a-1", "step-1", 2)])
    session.start()
    tree = _wait_for_pids(pid_file)
    # When the worker drains
    session.interrupt()
    # Then the running action is INTERRUPTED, the queued one NEVER_ATTEMPTED, the processes gone
    assert reporter.wait_for("a-0")["status"] == "INTERRUPTED"
    assert reporter.wait_for("a-1")["status"] == "NEVER_ATTEMPTED"
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive
    session.join(30)
    assert session.finished


def test_a_session_the_farm_drops_exits_its_environments_without_reporting_them(
    make_session: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    pid_file = tmp_path / "pids"
    session, reporter, _ = make_session(
        [environment("env-1", marker), script_step("step-1", TREE.format(pids=pid_file))]
    )
    session.assign(
        [
            SessionAction("a-0", {"envEnter": {"environmentId": "env-1"}}),
            task("a-1", "step-1", 1),
            task("a-2", "step-1", 2),
            SessionAction("a-3", {"envExit": {"environmentId": "env-1"}}),
        ]
    )
    session.start()
    _wait_for_pids(pid_file)
    # When the farm stops listing the session
    session.end()
    session.join(30)
    # Then the running task is FAILED, the queued task NEVER_ATTEMPTED, the queued exit not reported,
    # and the environment was still exited locally
    assert reporter.status("a-1") == "FAILED"
    assert reporter.status("a-2") == "NEVER_ATTEMPTED"
    assert reporter.status("a-3") is None
    assert marker.read_text().split() == ["entered", "exited"]


def test_timeouts_fail_with_timeout_and_progress_is_reported(make_session: Any) -> None:
    command = 'echo "openjd_progress: 40"; echo "openjd_status: warming up"; sleep 60'
    session, reporter, _ = make_session([script_step("step-1", command, timeout=2)])
    session.assign([task("a-0", "step-1", 1)])
    session.start()
    started = time.monotonic()
    done = reporter.wait_for("a-0", timeout=30)
    assert done["status"] == "FAILED"
    assert done["message"].startswith("TIMEOUT")
    assert time.monotonic() - started < 20
    assert any(p == 40.0 for p, _ in reporter.progress["a-0"])
    assert any(m == "warming up" for _, m in reporter.progress["a-0"])


def test_an_action_whose_entity_is_missing_fails_alone(make_session: Any) -> None:
    # Given a task of a step the farm reports as unknown (primed entities hold no such step)
    session, reporter, _ = make_session([script_step("step-1", "true")])
    session.entities._errors[("stepDetails", "step-404")] = "ResourceNotFoundException: no such step"
    session.assign([task("a-0", "step-404", 1), task("a-1", "step-1", 1)])
    session.start()
    # Then that action fails with the reason and the rest is never attempted
    failed = reporter.wait_for("a-0")
    assert failed["status"] == "FAILED"
    assert "no such step" in failed["message"]
    assert reporter.wait_for("a-1")["status"] == "NEVER_ATTEMPTED"


def test_job_parameters_and_path_mapping_rules_reach_the_task(make_session: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Given a job whose scene path was submitted from Windows, and a rule mapping it here
    session, reporter, _ = make_session(
        [script_step("step-1", f'echo "{{{{Param.Scene}}}} {{{{Param.Quality}}}}" > {out}')],
        parameters={"Scene": {"path": "C:\\assets\\scene.blend"}, "Quality": {"string": "high"}},
        pathMappingRules=[
            {"sourcePathFormat": "windows", "sourcePath": "C:\\assets", "destinationPath": "/mnt/assets"}
        ],
    )
    session.assign([task("a-0", "step-1", 1)])
    session.start()
    # When the task runs
    assert reporter.wait_for("a-0")["status"] == "SUCCEEDED"
    # Then it saw the parameters, with the path mapped
    assert out.read_text().split() == ["/mnt/assets/scene.blend", "high"]


def test_notify_then_terminate_lets_the_task_clean_up_before_the_tree_is_killed(
    make_session: Any, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    cleaned = tmp_path / "cleaned"
    # Given a task that cleans up on SIGTERM but leaves a stubborn child that ignores it
    command = (
        f"trap 'echo cleaned > {cleaned}; exit 0' TERM\n"
        "bash -c 'trap \"\" TERM; sleep 300' & a=$!\n"
        f'echo "$$ $a" > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}\n'
        "while true; do sleep 0.1; done\n"
    )
    session, reporter, _ = make_session([script_step("step-1", command, notify_seconds=3)])
    session.assign([task("a-0", "step-1", 1)])
    session.start()
    tree = _wait_for_pids(pid_file)
    # When the farm cancels it
    session.cancel({"a-0"})
    # Then the task was notified and cleaned up, it is CANCELED, and nothing of its tree survives
    assert reporter.wait_for("a-0")["status"] == "CANCELED"
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive
    assert cleaned.read_text().strip() == "cleaned"


def test_the_loop_is_woken_when_the_session_runs_dry_or_an_action_fails(make_session: Any) -> None:
    session, reporter, _ = make_session([script_step("step-1", "exit $(( {{Task.Param.N}} == 9 ? 4 : 0 ))")])
    # Given a batch of three tasks that succeed
    session.assign([task("a-0", "step-1", 1), task("a-1", "step-1", 2), task("a-2", "step-1", 3)])
    session.start()
    reporter.wait_for("a-2")
    time.sleep(0.2)
    # Then the scheduler loop was woken once, when the batch was done, not after every task
    assert reporter.wakes == ["a-2"]
    # When the next batch starts with a failing task
    session.assign([task("a-3", "step-1", 9), task("a-4", "step-1", 1)])
    assert reporter.wait_for("a-3")["status"] == "FAILED"
    reporter.wait_for("a-4")
    time.sleep(0.2)
    # Then it is woken at once for the failure
    assert reporter.wakes[1] in ("a-3", "a-4")
