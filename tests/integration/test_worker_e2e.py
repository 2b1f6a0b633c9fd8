"""Jobs run end to end: a real farm server, real `farmhand worker` processes, real OpenJD subprocesses."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _worker_farm import EXPR_LINES, EXPR_TEMPLATE, Farm, job_template, require_worker_protocol, step

from farmhand.testing import ServerProcess, WorkerProcess

pytestmark = pytest.mark.timeout(240)

TEMPLATES = Path(__file__).resolve().parents[1] / "bundles" / "templates"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    with ServerProcess(tmp_path_factory.mktemp("e2e-server")) as server:
        built = Farm(server)
        require_worker_protocol(built)
        yield built


@pytest.fixture(scope="module")
def workers(farm: Farm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WorkerProcess]]:
    started = [farm.worker(tmp_path_factory.mktemp(f"worker-{i}")) for i in range(2)]
    try:
        for worker in started:
            worker.wait_registered()
        yield started
    finally:
        for worker in started:
            worker.stop()


def test_two_step_job_with_dependency_runs_on_two_workers_and_logs_every_task(
    farm: Farm, workers: list[WorkerProcess]
) -> None:
    # Given a job whose second step depends on a 10-task first step
    template = job_template(
        "two steps",
        step("Render", 'echo "rendering frame {{Task.Param.Frame}}"; sleep 0.3', frames="1-10"),
        step("Assemble", 'echo "assembling after render"', depends_on="Render"),
    )
    # When it is submitted to the farm with two workers
    job_id = farm.submit(template)
    job = farm.wait(job_id)
    # Then it succeeds with every task counted
    assert job["taskRunStatus"] == "SUCCEEDED", job
    assert job["taskRunStatusCounts"]["SUCCEEDED"] == 11
    # And both workers took part
    sessions = farm.sessions(job_id)
    assert {s["workerId"] for s in sessions} == {w.worker_id for w in workers}
    # And each task's stdout is in its session's log
    steps = {s["name"]: s for s in farm.steps(job_id)}
    render_actions = farm.actions(job_id)
    for task in farm.tasks(job_id, steps["Render"]["stepId"]):
        frame = task["parameters"]["Frame"]["int"]
        action = farm.action(job_id, task["latestSessionActionId"])
        assert action["status"] == "SUCCEEDED"
        assert action["processExitCode"] == 0
        farm.wait_for_log(action["sessionId"], f"rendering frame {frame}")
    # And the dependent step started only after every render task ended
    task_runs = [a for a in render_actions if "taskRun" in a["definition"]]
    assemble = [a for a in task_runs if a["definition"]["taskRun"]["stepId"] == steps["Assemble"]["stepId"]]
    render = [a for a in task_runs if a["definition"]["taskRun"]["stepId"] == steps["Render"]["stepId"]]
    assert len(assemble) == 1
    assert assemble[0]["startedAt"] >= max(a["endedAt"] for a in render)


def test_failing_task_is_retried_then_fails_the_job(farm: Farm, workers: list[WorkerProcess]) -> None:
    # Given a job whose only task always exits 3, with two retries allowed
    job_id = farm.submit(
        job_template("fails", step("Fail", 'echo "about to fail"; exit 3')), maxRetriesPerTask=2
    )
    # When it runs
    job = farm.wait(job_id)
    # Then the task ran three times, each reported FAILED with exit code 3, and the job FAILED
    assert job["taskRunStatus"] == "FAILED"
    counts = job["taskRunStatusCounts"]
    assert counts["FAILED"] == 1
    assert sum(counts.values()) == 1
    runs = [
        farm.action(job_id, a["sessionActionId"])
        for a in farm.actions(job_id)
        if "taskRun" in a["definition"]
    ]
    assert len(runs) == 3
    assert all(a["status"] == "FAILED" and a["processExitCode"] == 3 for a in runs)
    (task,) = farm.tasks(job_id, farm.steps(job_id)[0]["stepId"])
    assert task["runStatus"] == "FAILED"


def test_reaching_max_failed_tasks_cancels_the_rest(farm: Farm, workers: list[WorkerProcess]) -> None:
    # Given six tasks where the first fails at once and the others would run for a minute
    command = 'if [ "{{Task.Param.Frame}}" = 1 ]; then exit 1; fi; sleep 60'
    job_id = farm.submit(
        job_template("fail fast", step("Work", command, frames="1-6")),
        maxFailedTasksCount=1,
        maxRetriesPerTask=0,
    )
    started = time.monotonic()
    # When the first task fails
    job = farm.wait(job_id, timeout=60)
    # Then the job fails well before the sleeping tasks could finish, with the rest canceled
    assert time.monotonic() - started < 45
    assert job["taskRunStatus"] == "FAILED"
    counts = job["taskRunStatusCounts"]
    assert counts["FAILED"] == 1
    assert counts["CANCELED"] == 5
    assert counts["SUCCEEDED"] == 0


def test_cancel_running_job_kills_the_task_process_tree(
    farm: Farm, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    # Given a running task that started a tree of processes and wrote their pids down
    pid_file = tmp_path / "pids"
    command = (
        "sleep 300 & a=$!\n"
        "bash -c 'sleep 300 & wait' & b=$!\n"
        'echo "$$ $a $b" > "{{Param.PidFile}}.tmp"; mv "{{Param.PidFile}}.tmp" "{{Param.PidFile}}"\n'
        "wait\n"
    )
    job_id = farm.submit(
        job_template("long", step("Sleep", command), parameters=["PidFile"]), parameters={"PidFile": pid_file}
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert time.monotonic() < deadline, farm.job(job_id)
        time.sleep(0.1)
    pids = [int(p) for p in pid_file.read_text().split()]
    tree = [psutil.Process(pid) for pid in pids]
    tree += [child for proc in tree for child in proc.children(recursive=True)]
    assert all(proc.is_running() for proc in tree)
    # When the job is canceled
    farm.deadline.update_job(
        farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id, targetTaskRunStatus="CANCELED"
    )
    # Then every process of the tree is gone within seconds, and the job is CANCELED
    _gone, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive, f"still running: {alive}"
    job = farm.wait(job_id, timeout=30)
    assert job["taskRunStatus"] == "CANCELED"
    runs = [a for a in farm.actions(job_id) if "taskRun" in a["definition"]]
    assert [a["status"] for a in runs] == ["CANCELED"]


def test_timeouts_and_progress_are_reported(farm: Farm, workers: list[WorkerProcess]) -> None:
    # Given a task that reports progress and a status, then outlives its 2-second timeout
    slow = step(
        "Slow",
        'echo "openjd_progress: 50"; echo "openjd_status: halfway"; sleep 30',
    )
    slow["script"]["actions"]["onRun"]["timeout"] = 2
    job_id = farm.submit(job_template("timeout", slow), maxRetriesPerTask=0)
    # When it runs
    job = farm.wait(job_id, timeout=60)
    # Then the action FAILED with a TIMEOUT message after the progress it reported
    assert job["taskRunStatus"] == "FAILED"
    (run,) = [a for a in farm.actions(job_id) if "taskRun" in a["definition"]]
    action = farm.deadline.get_session_action(
        farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id, sessionActionId=run["sessionActionId"]
    )
    assert action["status"] == "FAILED"
    assert "TIMEOUT" in action.get("progressMessage", "")
    assert (action["endedAt"] - action["startedAt"]).total_seconds() < 20


def test_worker_log_reaches_the_fleet_log_group(farm: Farm, workers: list[WorkerProcess]) -> None:
    # Given running workers
    group = f"/aws/deadline/{farm.farm_id}/{farm.fleet_id}"
    for worker in workers:
        # Then each one's own log is in the fleet's group, stream named by its worker id
        deadline = time.monotonic() + 20
        while True:
            try:
                events = farm.logs.get_log_events(logGroupName=group, logStreamName=worker.worker_id)[
                    "events"
                ]
            except farm.logs.exceptions.ResourceNotFoundException:
                events = []
            if any("started in fleet" in e["message"] for e in events):
                break
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.2)


def test_jobs_get_queue_role_credentials_and_never_the_workers_keys(
    farm: Farm, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    # Given a queue with a role, and a task that asks STS who it is through the default chain
    out = tmp_path / "identity"
    script = (
        "import boto3, os, sys; "
        "arn = boto3.client('sts').get_caller_identity()['Arn']; "
        "leaked = os.environ.get('AWS_ACCESS_KEY_ID'); "
        "open(sys.argv[1], 'w').write(f'{arn} {leaked}')"
    )
    command = f'"{sys.executable}" -c "{script}" "{out}"'
    job_id = farm.submit(job_template("whoami", step("WhoAmI", command)))
    # When it runs
    job = farm.wait(job_id)
    # Then it ran with the queue role's credentials from the worker's queue profile, not the worker's keys
    assert job["taskRunStatus"] == "SUCCEEDED", job
    arn, leaked = out.read_text().split()
    assert leaked == "None"
    assert arn != farm.server.admin.principal_arn
    assert ":assumed-role/" in arn
    assert farm.queue_id in arn


def test_stdout_messages_report_progress_and_status(farm: Farm, workers: list[WorkerProcess]) -> None:
    sample = TEMPLATES / "progress_messages.yaml"
    # Given a template that prints openjd_progress / openjd_status lines
    job_id = str(
        farm.deadline.create_job(
            farmId=farm.farm_id,
            queueId=farm.queue_id,
            template=sample.read_text(),
            templateType="YAML",
            priority=50,
        )["jobId"]
    )
    # When it runs on the farm
    job = farm.wait(job_id)
    # Then it succeeds, its action shows the last status at 100 %, and the lines are in the session log
    assert job["taskRunStatus"] == "SUCCEEDED", job
    (run,) = [a for a in farm.actions(job_id) if "taskRun" in a["definition"]]
    action = farm.action(job_id, run["sessionActionId"])
    assert action["progressPercent"] == 100
    assert action.get("progressMessage") == "Writing the outputs"
    farm.wait_for_log(action["sessionId"], "openjd_status: Reading the inputs")


def test_progress_of_a_running_task_is_visible_while_it_runs(
    farm: Farm, workers: list[WorkerProcess]
) -> None:
    # Given a task that reports 30 % and a status, then keeps working
    command = 'echo "openjd_progress: 30"; echo "openjd_status: a third done"; sleep 6'
    job_id = farm.submit(job_template("progress", step("Work", command)))

    # When it is running
    def running_action() -> dict[str, Any] | None:
        for summary in farm.actions(job_id):
            if "taskRun" in summary["definition"]:
                action = farm.action(job_id, summary["sessionActionId"])
                # Progress and status are two lines, which may reach the farm in two updates.
                shown = (
                    action.get("progressPercent") == 30 and action.get("progressMessage") == "a third done"
                )
                if action["status"] == "RUNNING" and shown:
                    return action
        return None

    deadline = time.monotonic() + 30
    action = running_action()
    while action is None:
        assert time.monotonic() < deadline, farm.actions(job_id)
        time.sleep(0.2)
        action = running_action()
    # Then the farm shows its progress and status before it ends
    assert "endedAt" not in action
    assert farm.wait(job_id)["taskRunStatus"] == "SUCCEEDED"


def test_expr_templates_run_with_their_bindings_on_a_worker(farm: Farm, workers: list[WorkerProcess]) -> None:
    # Given an EXPR job using what the farm accepts of the extension: typed list parameters,
    # expressions in format strings, and `let` bindings on the step, the step script, a job
    # environment's script and a step environment's script
    # When a real worker runs it
    job_id = farm.submit(EXPR_TEMPLATE)
    job = farm.wait(job_id)
    # Then it succeeds and every binding had its value in the commands
    assert job["taskRunStatus"] == "SUCCEEDED", [
        farm.action(job_id, a["sessionActionId"]).get("progressMessage") for a in farm.actions(job_id)
    ]
    logs = farm.job_log_once_it_has(job_id, EXPR_LINES)
    assert all(line in logs for line in EXPR_LINES), logs


def test_a_worker_says_once_where_it_registered_and_keeps_its_log(
    farm: Farm, workers: list[WorkerProcess]
) -> None:
    # Given a running worker (it prints its line once it has started)
    worker = workers[0]
    give_up = time.monotonic() + 30
    while "registered in fleet" not in worker.output() and time.monotonic() < give_up:
        time.sleep(0.2)
    # Then it printed one line naming itself, its fleet, its farm and the endpoint, and its log file
    lines = [line for line in worker.output().splitlines() if "registered in fleet" in line]
    assert lines == [
        f"worker {worker.worker_id} registered in fleet {farm.fleet_id} of farm {farm.farm_id} "
        f"at {farm.server.url}; its log: {worker.data_dir / 'logs' / 'worker.log'}"
    ]
    assert "started in fleet" in (worker.data_dir / "logs" / "worker.log").read_text()
