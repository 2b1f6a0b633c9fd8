"""Workers and servers that die or stop mid-job: the work still completes, exactly once."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _worker_farm import Farm, job_template, require_worker_protocol, step

from farmhand.testing import ServerProcess, WorkerProcess

pytestmark = pytest.mark.timeout(300)

WORKER_TIMEOUT_SECONDS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(data_dir: Path, port: int = 0, *args: str) -> ServerProcess:
    return ServerProcess(
        data_dir, port=port, extra_args=["--worker-timeout-seconds", str(WORKER_TIMEOUT_SECONDS), *args]
    ).start()


class Running:
    """Worker processes started by a test; all stopped at its end."""

    def __init__(self) -> None:
        self.started: list[WorkerProcess] = []

    def start(self, farm: Farm, data_dir: Path) -> WorkerProcess:
        worker = farm.worker(data_dir)
        self.started.append(worker)
        worker.wait_registered()
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop(timeout=30)


@pytest.fixture
def running() -> Iterator[Running]:
    tracker = Running()
    yield tracker
    tracker.stop_all()


def _task_runs(farm: Farm, job_id: str) -> list[dict[str, Any]]:
    """Every taskRun action of the job, with the detail (session, exit code) only GetSessionAction has."""
    return [
        farm.action(job_id, a["sessionActionId"])
        for a in farm.actions(job_id)
        if "taskRun" in a["definition"]
    ]


def _wait_until(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_workers_task_completes_on_another_worker(tmp_path: Path, running: Running) -> None:
    server = _server(tmp_path / "server")
    try:
        farm = Farm(server)
        require_worker_protocol(farm)
        first = running.start(farm, tmp_path / "w1")
        # Given a task running on the first worker
        pids = tmp_path / "pids"
        command = f'echo "$$" >> {pids}; echo "running on $DEADLINE_WORKER_ID"; sleep 4; echo finished'
        job_id = farm.submit(job_template("survivor", step("Work", command)))
        _wait_until(lambda: pids.exists(), 60, "the task to start")
        second = running.start(farm, tmp_path / "w2")
        # When the first worker is killed with SIGKILL (its task's process dies with it)
        first.kill()
        task_pid = int(pids.read_text().split()[0])
        _wait_until(lambda: not psutil.pid_exists(task_pid), 10, "the task's process to die with its worker")
        # Then after the worker timeout the task runs again, on the second worker, to SUCCEEDED
        job = farm.wait(job_id, timeout=90)
        assert job["taskRunStatus"] == "SUCCEEDED"
        runs = _task_runs(farm, job_id)
        succeeded = [a for a in runs if a["status"] == "SUCCEEDED"]
        assert len(succeeded) == 1
        sessions = {s["sessionId"]: s for s in farm.sessions(job_id)}
        assert sessions[succeeded[0]["sessionId"]]["workerId"] == second.worker_id
        worker = farm.deadline.get_worker(
            farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=first.worker_id
        )
        assert worker["status"] == "NOT_RESPONDING"
        # And the failure of the lost worker did not count against the task
        (task,) = farm.tasks(job_id, farm.steps(job_id)[0]["stepId"])
        assert task["failureRetryCount"] == 0
    finally:
        running.stop_all()
        server.stop()


def test_restarting_the_server_mid_job_finishes_every_task_exactly_once(
    tmp_path: Path, running: Running
) -> None:
    port = _free_port()
    server = _server(tmp_path / "server", port)
    try:
        farm = Farm(server)
        require_worker_protocol(farm)
        for i in range(2):
            running.start(farm, tmp_path / f"w{i}")
        # Given a 20-task job under way
        job_id = farm.submit(job_template("restart", step("Work", "sleep 0.4", frames="1-20")))
        _wait_until(
            lambda: farm.job(job_id)["taskRunStatusCounts"]["SUCCEEDED"] >= 4, 60, "a few tasks to succeed"
        )
        # When the server is killed and started again on the same port and data
        server.kill()
        time.sleep(1.0)
        server = _server(tmp_path / "server", port)
        farm.deadline = server.client("deadline")
        farm.logs = server.client("logs")
        # Then the job finishes and no task ran to SUCCEEDED twice
        job = farm.wait(job_id, timeout=120)
        assert job["taskRunStatus"] == "SUCCEEDED"
        assert job["taskRunStatusCounts"]["SUCCEEDED"] == 20
        per_task: dict[str, int] = {}
        for action in _task_runs(farm, job_id):
            if action["status"] == "SUCCEEDED":
                task_id = action["definition"]["taskRun"]["taskId"]
                per_task[task_id] = per_task.get(task_id, 0) + 1
        assert len(per_task) == 20
        assert set(per_task.values()) == {1}
    finally:
        running.stop_all()
        server.stop()


def test_sigterm_drains_the_worker_and_its_task_runs_elsewhere(tmp_path: Path, running: Running) -> None:
    server = _server(tmp_path / "server")
    try:
        farm = Farm(server)
        require_worker_protocol(farm)
        first = running.start(farm, tmp_path / "w1")
        # Given a long task on the only worker (a second run finishes at once)
        marker = tmp_path / "ran-once"
        pids = tmp_path / "pids"
        command = (
            f"if [ -e {marker} ]; then echo second run; exit 0; fi\n"
            f"touch {marker}; echo $$ >> {pids}; sleep 120\n"
        )
        job_id = farm.submit(job_template("drain", step("Work", command)))
        _wait_until(lambda: pids.exists(), 60, "the task to start")
        task_pid = int(pids.read_text().split()[0])
        # When the worker gets SIGTERM
        assert first.process is not None
        first.process.send_signal(signal.SIGTERM)
        code = first.process.wait(60)
        # Then it exits cleanly, its task process is gone, and the farm sees STOPPED and INTERRUPTED
        assert code == 0, first.output()
        assert not psutil.pid_exists(task_pid) or psutil.Process(task_pid).status() == psutil.STATUS_ZOMBIE
        worker = farm.deadline.get_worker(
            farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=first.worker_id
        )
        assert worker["status"] == "STOPPED"
        (run,) = _task_runs(farm, job_id)
        assert run["status"] == "INTERRUPTED"
        # And the task is back to READY without a failure, and runs on the next worker
        (task,) = farm.tasks(job_id, farm.steps(job_id)[0]["stepId"])
        assert task["runStatus"] == "READY"
        assert task["failureRetryCount"] == 0
        running.start(farm, tmp_path / "w2")
        assert farm.wait(job_id, timeout=60)["taskRunStatus"] == "SUCCEEDED"
    finally:
        running.stop_all()
        server.stop()


def test_a_worker_that_failed_too_often_gets_no_more_of_that_job(tmp_path: Path, running: Running) -> None:
    # (the default worker timeout: a loaded machine must not make a worker NOT_RESPONDING, which
    # would rightly lift the cap of the other)
    server = ServerProcess(tmp_path / "server", extra_args=["--worker-failure-cap", "1"]).start()
    try:
        farm = Farm(server)
        require_worker_protocol(farm)
        workers = [running.start(farm, tmp_path / f"w{i}") for i in range(2)]
        _wait_until(
            lambda: all(
                farm.deadline.get_worker(farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=w.worker_id)[
                    "status"
                ]
                in ("STARTED", "IDLE", "RUNNING")
                for w in workers
            ),
            30,
            "both workers online",
        )
        # Given a task that always fails, with 3 retries, and a per-worker cap of 1 failure
        job_id = farm.submit(job_template("capped", step("Fail", "exit 7")), maxRetriesPerTask=3)
        # When the farm has run it
        job = farm.wait(job_id, timeout=120)
        # Then its second run was on the other worker (the cap steered it there), and once both
        # workers were at the cap it lifted: the task used its retries and the job ended FAILED
        assert job["taskRunStatus"] == "FAILED"
        runs = sorted(_task_runs(farm, job_id), key=lambda a: a["startedAt"])
        sessions = {s["sessionId"]: s["workerId"] for s in farm.sessions(job_id)}
        assert [a["status"] for a in runs] == ["FAILED"] * 4
        first_two = [sessions[a["sessionId"]] for a in runs[:2]]
        assert sorted(first_two) == sorted(w.worker_id for w in workers)
    finally:
        running.stop_all()
        server.stop()


def test_a_restarted_worker_keeps_its_id_and_takes_work_again(tmp_path: Path, running: Running) -> None:
    server = _server(tmp_path / "server")
    try:
        farm = Farm(server)
        require_worker_protocol(farm)
        # Given a worker that was stopped, and one that was killed and went NOT_RESPONDING
        stopped = running.start(farm, tmp_path / "stopped")
        killed = running.start(farm, tmp_path / "killed")
        stopped_id, killed_id = stopped.worker_id, killed.worker_id
        assert stopped.stop() == 0
        killed.kill()

        def status(worker_id: str | None) -> str:
            answer = farm.deadline.get_worker(farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=worker_id)
            return str(answer["status"])

        _wait_until(
            lambda: status(killed_id) == "NOT_RESPONDING", 30, "the killed worker to be NOT_RESPONDING"
        )
        assert status(stopped_id) == "STOPPED"
        # When both start again from their data directories
        again = [running.start(farm, tmp_path / "stopped"), running.start(farm, tmp_path / "killed")]
        # Then they are the same workers, back online, and they run work
        assert [w.worker_id for w in again] == [stopped_id, killed_id]
        _wait_until(
            lambda: all(status(w) in ("STARTED", "IDLE", "RUNNING") for w in (stopped_id, killed_id)),
            30,
            "both workers online",
        )
        workers = farm.deadline.list_workers(farmId=farm.farm_id, fleetId=farm.fleet_id)["workers"]
        assert len(workers) == 2
        job_id = farm.submit(job_template("after restart", step("Work", "sleep 0.5", frames="1-6")))
        assert farm.wait(job_id, timeout=60)["taskRunStatus"] == "SUCCEEDED"
        assert {s["workerId"] for s in farm.sessions(job_id)} <= {stopped_id, killed_id}
    finally:
        running.stop_all()
        server.stop()


def test_workers_run_a_job_on_a_postgresql_farm_and_survive_its_restart(
    tmp_path: Path, running: Running, pg_cluster: Any
) -> None:
    port = _free_port()
    url = pg_cluster.new_database()
    server = ServerProcess(tmp_path / "server", port=port, database_url=url).start()
    try:
        farm = Farm(server)
        require_worker_protocol(farm)
        for i in range(2):
            running.start(farm, tmp_path / f"w{i}")
        # Given a job under way on a farm whose store is PostgreSQL
        job_id = farm.submit(
            job_template("pg", step("Work", 'echo "pg frame {{Task.Param.Frame}}"; sleep 0.3', frames="1-12"))
        )
        _wait_until(lambda: farm.job(job_id)["taskRunStatusCounts"]["SUCCEEDED"] >= 2, 60, "tasks to succeed")
        # When the server is killed and started again
        server.kill()
        server = ServerProcess(tmp_path / "server", port=port, database_url=url).start()
        farm.deadline = server.client("deadline")
        farm.logs = server.client("logs")
        # Then the job finishes, every task once, with its output in the session logs
        job = farm.wait(job_id, timeout=120)
        assert job["taskRunStatus"] == "SUCCEEDED"
        succeeded = [a for a in _task_runs(farm, job_id) if a["status"] == "SUCCEEDED"]
        assert len(succeeded) == 12
        assert len({a["definition"]["taskRun"]["taskId"] for a in succeeded}) == 12
        farm.wait_for_log(succeeded[-1]["sessionId"], "pg frame")
    finally:
        running.stop_all()
        server.stop()
