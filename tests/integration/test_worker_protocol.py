"""The worker protocol against a real server, driven by synthetic boto3 workers.

Covers: dependency order and session shape, retries, maxFailedTasksCount, cancel of running work,
re-sent updates, conflict shapes, BatchGetJobEntity, the per-worker failure cap, long polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _synthetic_workers import (
    SyntheticWorker,
    drive,
    farm_with_fleet,
    job_status,
    job_template,
    step,
    submit,
)
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def farm_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server with a failure cap of 2 (so the cap test is short), on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgres" else None
    with ServerProcess(
        Path(tmp_path_factory.mktemp("worker-protocol")),
        database_url=url,
        env={"FARMHAND_WORKER_FAILURE_CAP": "2"},
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def admin(farm_server: ServerProcess) -> Any:
    return farm_server.client("deadline")


@pytest.fixture
def farm(admin: Any) -> tuple[str, str, str]:
    return farm_with_fleet(admin)


def test_two_steps_run_in_dependency_order_one_step_per_session(farm_server, admin, farm) -> None:
    # Given a job whose step B depends on step A, with a job environment and a step environment on B
    farm_id, queue_id, fleet_id = farm
    template = job_template(
        step("A", 3),
        step(
            "B",
            2,
            dependencies=[{"dependsOn": "A"}],
            stepEnvironments=[{"name": "BEnv", "variables": {"X": "1"}}],
        ),
        jobEnvironments=[{"name": "JobEnv", "variables": {"Y": "2"}}],
    )
    job_id = submit(admin, farm_id, queue_id, template)
    workers = [SyntheticWorker(farm_server, farm_id, fleet_id) for _ in range(2)]

    # When two workers work until the job is done
    drive(workers, lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "SUCCEEDED")

    # Then every task ran once, all of A before any of B
    job = job_status(admin, farm_id, queue_id, job_id)
    assert job["taskRunStatusCounts"]["SUCCEEDED"] == 5
    steps = {
        s["name"]: s["stepId"]
        for s in admin.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"]
    }
    runs = sorted((r for w in workers for r in w.task_runs()), key=lambda r: r["id"])
    assert len(runs) == 5
    order = [r["taskRun"]["stepId"] for w in workers for r in w.task_runs()]
    assert order.count(steps["A"]) == 3 and order.count(steps["B"]) == 2
    for worker in workers:
        seen_b = False
        for r in worker.task_runs():
            seen_b |= r["taskRun"]["stepId"] == steps["B"]
            assert not (seen_b and r["taskRun"]["stepId"] == steps["A"])
    # And each session served one step, entered the job environment once, first, and exited it last
    for worker in workers:
        by_session: dict[str, list[dict[str, Any]]] = {}
        for r in worker.ran:
            by_session.setdefault(r["sessionId"], []).append(r)
        for actions in by_session.values():
            assert len({a["taskRun"]["stepId"] for a in actions if "taskRun" in a}) == 1
            kinds = [
                next(k for k in a if k in ("envEnter", "envExit", "taskRun", "syncInputJobAttachments"))
                for a in actions
            ]
            assert kinds[0] == "envEnter" and actions[0]["envEnter"]["environmentId"].endswith(":JobEnv")
            assert kinds[-1] == "envExit" and actions[-1]["envExit"]["environmentId"].endswith(":JobEnv")
            assert kinds.count("envEnter") == kinds.count("envExit")
    # And the sessions are ENDED and readable
    sessions = admin.list_sessions(farmId=farm_id, queueId=queue_id, jobId=job_id)["sessions"]
    assert sessions and all(s["lifecycleStatus"] == "ENDED" for s in sessions)
    one = admin.get_session(
        farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=sessions[0]["sessionId"]
    )
    assert one["log"]["options"]["logGroupName"] == f"/aws/deadline/{farm_id}/{queue_id}"
    actions = admin.list_session_actions(farmId=farm_id, queueId=queue_id, jobId=job_id)["sessionActions"]
    assert {a["status"] for a in actions} == {"SUCCEEDED"}
    task = next(a for a in actions if "taskRun" in a["definition"])
    got = admin.get_session_action(
        farmId=farm_id, queueId=queue_id, jobId=job_id, sessionActionId=task["sessionActionId"]
    )
    assert got["processExitCode"] == 0 and got["progressPercent"] == 100


def test_a_failing_task_is_retried_then_failed(farm_server, admin, farm) -> None:
    # Given a one-task job allowing 1 retry and a worker whose task runs always fail
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 1)), maxRetriesPerTask=1)
    worker = SyntheticWorker(
        farm_server, farm_id, fleet_id, outcome=lambda a: "FAILED" if "taskRun" in a else "SUCCEEDED"
    )
    # When it works until the job is finished
    drive([worker], lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "FAILED")
    # Then the task ran twice and the job is FAILED with the counts right
    job = job_status(admin, farm_id, queue_id, job_id)
    assert len(worker.task_runs()) == 2
    assert job["taskRunStatusCounts"]["FAILED"] == 1
    assert sum(job["taskRunStatusCounts"].values()) == 1
    assert job["taskFailureRetryCount"] == 1  # one retry granted


def test_max_failed_tasks_cancels_the_rest(farm_server, admin, farm) -> None:
    # Given a 4-task job with no retries that gives up after 1 failed task
    farm_id, queue_id, fleet_id = farm
    job_id = submit(
        admin, farm_id, queue_id, job_template(step("A", 4)), maxRetriesPerTask=0, maxFailedTasksCount=1
    )
    worker = SyntheticWorker(
        farm_server, farm_id, fleet_id, outcome=lambda a: "FAILED" if "taskRun" in a else "SUCCEEDED"
    )
    # When its first task fails
    drive([worker], lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "FAILED")
    # Then the job is FAILED and the other tasks were canceled without running
    counts = job_status(admin, farm_id, queue_id, job_id)["taskRunStatusCounts"]
    assert counts["FAILED"] == 1 and counts["CANCELED"] == 3
    assert len(worker.task_runs()) == 1


def test_cancel_reaches_running_work(farm_server, admin, farm) -> None:
    # Given a worker running a task of a job
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 2)))
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    answer = worker.poll()
    ((session_id, session),) = answer["assignedSessions"].items()
    task_action = next(a for a in session["sessionActions"] if "taskRun" in a["definition"])
    worker.report_running(task_action["sessionActionId"])
    worker.poll()
    running = [
        t
        for t in admin.list_tasks(
            farmId=farm_id,
            queueId=queue_id,
            jobId=job_id,
            stepId=task_action["definition"]["taskRun"]["stepId"],
        )["tasks"]
        if t["runStatus"] == "RUNNING"
    ]
    assert len(running) == 1

    # When the user cancels the job
    admin.update_job(farmId=farm_id, queueId=queue_id, jobId=job_id, targetTaskRunStatus="CANCELED")

    # Then the next answer asks the worker to cancel the running action
    answer = worker.poll()
    assert answer["cancelSessionActions"] == {session_id: [task_action["sessionActionId"]]}
    listed = [a["sessionActionId"] for a in answer["assignedSessions"][session_id]["sessionActions"]]
    assert task_action["sessionActionId"] not in listed
    # And once the worker reports it CANCELED, the job is CANCELED and the session ends
    worker.updates[task_action["sessionActionId"]] = {
        "completedStatus": "CANCELED",
        "endedAt": time_now(),
        "startedAt": time_now(),
    }
    worker.done.add(task_action["sessionActionId"])
    worker.poll()
    worker.run_assigned()
    worker.poll()
    job = job_status(admin, farm_id, queue_id, job_id)
    assert job["taskRunStatus"] == "CANCELED"
    assert job["taskRunStatusCounts"]["CANCELED"] == 2
    assert worker.last["assignedSessions"] == {}
    session_view = admin.get_session(farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id)
    assert session_view["lifecycleStatus"] == "ENDED"


def time_now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def test_resent_updates_are_applied_once(farm_server, admin, farm) -> None:
    # Given a worker whose failed task report is sent twice (the first answer was "lost")
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 1)), maxRetriesPerTask=5)
    worker = SyntheticWorker(
        farm_server, farm_id, fleet_id, outcome=lambda a: "FAILED" if "taskRun" in a else "SUCCEEDED"
    )
    worker.poll()
    worker.run_assigned()
    sent = dict(worker.updates)
    worker.poll()
    # When the same updates arrive again
    worker.updates = sent
    worker.poll()
    # Then the failure counted once
    job = job_status(admin, farm_id, queue_id, job_id)
    assert job["taskFailureRetryCount"] == 1


def test_conflict_shapes(farm_server, admin, farm) -> None:
    farm_id, _, fleet_id = farm
    # Given a registered but not started worker
    worker = SyntheticWorker(farm_server, farm_id, fleet_id, start=False)
    # Then UpdateWorkerSchedule is a STATUS_CONFLICT naming the worker and its status
    with pytest.raises(ClientError) as info:
        worker.poll()
    error = info.value.response
    assert error["Error"]["Code"] == "ConflictException"
    assert error["reason"] == "STATUS_CONFLICT" and error["resourceId"] == worker.worker_id
    assert error["context"] == {"status": "CREATED"}
    # And a started worker that is STOPPING must pass through STOPPED before STARTED
    worker.start()
    worker.client.update_worker(**worker.ids(), status="STOPPING")
    with pytest.raises(ClientError) as info:
        worker.start()
    assert info.value.response["context"] == {"status": "STOPPING"}
    # And it cannot be deleted until STOPPED
    with pytest.raises(ClientError) as info:
        admin.delete_worker(**worker.ids())
    assert info.value.response["Error"]["Code"] == "ConflictException"
    worker.client.update_worker(**worker.ids(), status="STOPPED")
    assert worker.start()["log"]["options"] == {
        "logGroupName": f"/aws/deadline/{farm_id}/{fleet_id}",
        "logStreamName": worker.worker_id,
    }
    worker.client.update_worker(**worker.ids(), status="STOPPED")
    admin.delete_worker(**worker.ids())
    with pytest.raises(ClientError) as info:
        admin.get_worker(**worker.ids())
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_job_entities(farm_server, admin, farm) -> None:
    # Given a job with a job environment, a step environment and a dependency
    farm_id, queue_id, fleet_id = farm
    template = job_template(
        step("A"),
        step(
            "B",
            dependencies=[{"dependsOn": "A"}],
            stepEnvironments=[{"name": "BEnv", "variables": {"X": "1"}}],
        ),
        jobEnvironments=[{"name": "JobEnv", "variables": {"Y": "2"}}],
        parameterDefinitions=[{"name": "Frames", "type": "INT", "default": 7}],
    )
    job_id = submit(admin, farm_id, queue_id, template)
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    # And a worker holding a session of that job (a worker reads only its own sessions' jobs)
    assert worker.poll()["assignedSessions"]
    steps = {
        s["name"]: s["stepId"]
        for s in admin.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"]
    }
    # When the worker asks for every entity of the job (and one that does not exist)
    answer = worker.client.batch_get_job_entity(
        **worker.ids(),
        identifiers=[
            {"jobDetails": {"jobId": job_id}},
            {"stepDetails": {"jobId": job_id, "stepId": steps["B"]}},
            {"environmentDetails": {"jobId": job_id, "environmentId": f"JOB:{job_id}:JobEnv"}},
            {"environmentDetails": {"jobId": job_id, "environmentId": f"STEP:{steps['B']}:BEnv"}},
            {"jobDetails": {"jobId": "job-" + "0" * 32}},
        ],
    )
    # Then the details are what the agent needs
    entities = answer["entities"]
    job = entities[0]["jobDetails"]
    assert job["schemaVersion"] == "jobtemplate-2023-09"
    assert job["jobRunAsUser"] == {"runAs": "WORKER_AGENT_USER"}
    assert job["logGroupName"] == f"/aws/deadline/{farm_id}/{queue_id}"
    assert job["parameters"]["Frames"] == {"int": "7"}
    assert "queueRoleArn" not in job
    b = entities[1]["stepDetails"]
    assert b["template"]["name"] == "B" and b["dependencies"] == [steps["A"]]
    assert entities[2]["environmentDetails"]["template"]["name"] == "JobEnv"
    assert entities[3]["environmentDetails"]["template"] == {"name": "BEnv", "variables": {"X": "1"}}
    assert answer["errors"][0]["jobDetails"]["code"] == "AccessDeniedException"
    # And a queue without a role gives empty queue credentials
    assert "credentials" not in worker.client.assume_queue_role_for_worker(**worker.ids(), queueId=queue_id)


def test_per_worker_failure_cap(farm_server, admin, farm) -> None:
    # Given a server capping a worker at 2 failed tasks per job, a job whose tasks fail on worker A,
    # and a healthy worker B online in the same fleet
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 4)), maxRetriesPerTask=10)
    bad = SyntheticWorker(
        farm_server, farm_id, fleet_id, outcome=lambda a: "FAILED" if "taskRun" in a else "SUCCEEDED"
    )
    good = SyntheticWorker(farm_server, farm_id, fleet_id)
    # When worker A has failed twice
    for _ in range(6):
        bad.work()
    # Then it gets no more of that job while B could take it
    assert len(bad.task_runs()) == 2
    assert bad.last["assignedSessions"] == {}
    # And the healthy worker finishes it
    drive([bad, good], lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "SUCCEEDED")
    assert len(bad.task_runs()) == 2


def test_the_failure_cap_lifts_when_no_other_worker_can_take_the_job(farm_server, admin, farm) -> None:
    # Given a farm with one worker, a cap of 2 failed tasks per job, and a job of three tasks of which
    # one always fails and may be retried 3 times
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 3)), maxRetriesPerTask=3)

    def outcome(action: dict[str, Any]) -> str:
        failing = "taskRun" in action and action["taskRun"]["parameters"]["N"]["int"] == "2"
        return "FAILED" if failing else "SUCCEEDED"

    only = SyntheticWorker(farm_server, farm_id, fleet_id, outcome=outcome)
    # When the worker works until the job has ended
    drive([only], lambda: job_status(admin, farm_id, queue_id, job_id)["taskRunStatus"] == "FAILED", 30)
    # Then the cap did not keep the job from ending: the good tasks ran and the bad one used its retries
    counts = job_status(admin, farm_id, queue_id, job_id)["taskRunStatusCounts"]
    assert (counts["SUCCEEDED"], counts["FAILED"], counts["READY"]) == (2, 1, 0)
    failed_runs = [r for r in only.task_runs() if r["status"] == "FAILED"]
    assert len(failed_runs) == 4


def poll_while_submitting(
    server: ServerProcess, admin: Any, farm: tuple[str, str, str], wait: int, *, tasks: int
) -> tuple[dict[str, Any], float]:
    """A new idle worker's poll held up to `wait` s, a job of `tasks` tasks submitted 0.5 s into it:
    the poll's answer and how long it took."""
    farm_id, queue_id, fleet_id = farm
    worker = SyntheticWorker(server, farm_id, fleet_id)
    worker.wait_seconds = wait
    timer = threading.Timer(0.5, lambda: submit(admin, farm_id, queue_id, job_template(step("A", tasks))))
    timer.start()
    started = time.monotonic()
    answer = worker.poll()
    elapsed = time.monotonic() - started
    timer.join()
    return answer, elapsed


def test_long_poll_returns_work_that_arrives_while_waiting(farm_server, admin, farm) -> None:
    # Given an idle worker holding a long poll of up to 20 s
    # When work is submitted while the call waits
    answer, elapsed = poll_while_submitting(farm_server, admin, farm, 20, tasks=1)
    # Then the same call returns the assignment, well before its wait ran out
    assert len(answer["assignedSessions"]) == 1
    assert elapsed < 20


def test_long_poll_returns_a_large_job_once_its_background_creation_ends(farm_server, admin, farm) -> None:
    # Given an idle worker holding a long poll of up to 60 s
    # When a job too large to be written in its CreateJob call (its tasks are written after the
    # answer; the job is not schedulable until then) is submitted while the call waits
    answer, elapsed = poll_while_submitting(farm_server, admin, farm, 60, tasks=25_000)
    # Then the end of the creation wakes the call, which returns the assignment before its wait ran out
    assert len(answer["assignedSessions"]) == 1
    assert elapsed < 45


def test_waiting_long_polls_hold_no_request_threads(tmp_path: Path) -> None:
    """More idle workers wait than the server has request threads: none holds one while it waits."""
    with ServerProcess(tmp_path / "few-threads", extra_args=["--request-threads", "4"]) as server:
        admin = server.client("deadline")
        farm_id, queue_id, fleet_id = farm_with_fleet(admin)
        # Given 16 idle workers each holding a long poll of up to 30 s, on a server of 4 request threads
        workers = [SyntheticWorker(server, farm_id, fleet_id) for _ in range(16)]
        answers: dict[str, dict[str, Any]] = {}

        def wait_for_work(worker: SyntheticWorker) -> None:
            worker.wait_seconds = 30
            answers[worker.worker_id] = worker.poll()

        waiting = [threading.Thread(target=wait_for_work, args=(w,)) for w in workers]
        for thread in waiting:
            thread.start()
        time.sleep(1.5)
        assert not answers  # all of them wait
        # When another call comes, and then a job of 16 tasks
        started = time.monotonic()
        admin.get_farm(farmId=farm_id)
        answered_in = time.monotonic() - started
        submit(admin, farm_id, queue_id, job_template(step("A", 16)))
        for thread in waiting:
            thread.join(timeout=60)
        # Then the call was answered at once, and every waiting worker was woken with work
        assert answered_in < 5
        assert len(answers) == 16
        assigned = [a for a in answers.values() if a["assignedSessions"]]
        assert len(assigned) >= 2  # work spread over the woken workers (batches go to the first)
        counts = admin.get_job(
            farmId=farm_id,
            queueId=queue_id,
            jobId=admin.list_jobs(farmId=farm_id, queueId=queue_id)["jobs"][0]["jobId"],
        )["taskRunStatusCounts"]
        assert counts.get("READY", 0) == 0


def test_an_urgent_job_takes_back_the_queued_part_of_a_batch(farm_server, admin, farm) -> None:
    # Given a worker holding a batch of tasks of a low-priority job, the first one running
    farm_id, queue_id, fleet_id = farm
    low = submit(admin, farm_id, queue_id, job_template(step("A", 8)), priority=10)
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    answer = worker.poll()
    ((session_id, session),) = answer["assignedSessions"].items()
    runs = [a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"]]
    assert len(runs) >= 2
    worker.report_running(runs[0])
    # When an urgent job arrives
    urgent = submit(admin, farm_id, queue_id, job_template(step("U", 1)), priority=90)
    answer = worker.poll()
    # Then only the running task stays in the session; the others are READY again for anyone
    listed = [a["sessionActionId"] for a in answer["assignedSessions"][session_id]["sessionActions"]]
    assert runs[0] in listed and not set(runs[1:]) & set(listed)
    counts = job_status(admin, farm_id, queue_id, low)["taskRunStatusCounts"]
    assert counts["RUNNING"] == 1 and counts["READY"] == 7
    # And once the running task is done, the worker moves to the urgent job
    worker.run_assigned()
    drive([worker], lambda: job_status(admin, farm_id, queue_id, urgent)["taskRunStatus"] == "SUCCEEDED")


def test_update_session_ended_cancels_the_running_action(farm_server, admin, farm) -> None:
    # Given a worker running a task
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 1)))
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    ((session_id, session),) = worker.poll()["assignedSessions"].items()
    run = next(a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"])
    worker.report_running(run)
    worker.poll()
    # When the user ends the session
    admin.update_session(
        farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id, targetLifecycleStatus="ENDED"
    )
    # Then the worker is asked to cancel it, and after it reports, the session ends and the task is READY
    answer = worker.poll()
    assert answer["cancelSessionActions"] == {session_id: [run]}
    worker.updates[run] = {"completedStatus": "CANCELED", "startedAt": time_now(), "endedAt": time_now()}
    worker.done.add(run)
    worker.poll()
    view = admin.get_session(farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id)
    assert view["lifecycleStatus"] == "ENDED" and view["targetLifecycleStatus"] == "ENDED"
    counts = job_status(admin, farm_id, queue_id, job_id)["taskRunStatusCounts"]
    assert counts["READY"] + counts["ASSIGNED"] == 1


def test_stop_scheduling_and_cancel_tasks_stops_running_work(farm_server, admin, farm) -> None:
    # Given a worker running a task of the queue
    farm_id, queue_id, fleet_id = farm
    job_id = submit(admin, farm_id, queue_id, job_template(step("A", 1)))
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    ((session_id, session),) = worker.poll()["assignedSessions"].items()
    run = next(a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"])
    worker.report_running(run)
    worker.poll()
    # When the queue's association with the fleet is told to stop and cancel
    admin.update_queue_fleet_association(
        farmId=farm_id, queueId=queue_id, fleetId=fleet_id, status="STOP_SCHEDULING_AND_CANCEL_TASKS"
    )
    # Then the worker is asked to cancel the running action, and gets no more work from that queue
    answer = worker.poll()
    assert answer["cancelSessionActions"] == {session_id: [run]}
    worker.updates[run] = {"completedStatus": "CANCELED", "startedAt": time_now(), "endedAt": time_now()}
    worker.done.add(run)
    worker.work(3)
    assert worker.last["assignedSessions"] == {}
    # And the task waits READY for a fleet that still serves the queue; the association is STOPPED
    assert job_status(admin, farm_id, queue_id, job_id)["taskRunStatusCounts"]["READY"] == 1
    association = admin.get_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    assert association["status"] == "STOPPED"


def test_step_details_carry_the_resolved_symbol_table_of_expr_templates(farm_server, admin, farm) -> None:
    # Given an EXPR job whose step binds a value with `let`
    farm_id, queue_id, fleet_id = farm
    template = job_template(
        {**step("A"), "let": ["double = Param.N * 2"]},
        extensions=["EXPR"],
        parameterDefinitions=[{"name": "N", "type": "INT", "default": 3}],
    )
    job_id = submit(admin, farm_id, queue_id, template)
    step_id = admin.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"][0]["stepId"]
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    assert worker.poll()["assignedSessions"]
    # When the worker (holding a session of the job) asks for the step's details
    answer = worker.client.batch_get_job_entity(
        **worker.ids(), identifiers=[{"stepDetails": {"jobId": job_id, "stepId": step_id}}]
    )
    # Then they list the extension and carry openjd's symbol table with the binding
    details = answer["entities"][0]["stepDetails"]
    assert details["extensions"] == ["EXPR"]
    assert "double" in details["resolvedSymbolTable"]


def test_a_busy_session_running_low_is_topped_up_before_it_runs_dry(farm_server, admin, farm) -> None:
    # Given a worker holding a batch of tasks of a 40-task step
    farm_id, queue_id, fleet_id = farm
    submit(admin, farm_id, queue_id, job_template(step("A", 40)))
    worker = SyntheticWorker(farm_server, farm_id, fleet_id)
    answer = worker.poll()
    ((session_id, session),) = answer["assignedSessions"].items()
    batch = [a["sessionActionId"] for a in session["sessionActions"] if "taskRun" in a["definition"]]
    assert 2 <= len(batch) < 40
    # When it has run every task of the batch but the last
    setup = len(session["sessionActions"]) - len(batch)
    worker.run_assigned(limit=setup + len(batch) - 1)
    answer = worker.poll()
    # Then the same session lists that last task followed by a new batch of the same step
    listed = [
        a["sessionActionId"]
        for a in answer["assignedSessions"][session_id]["sessionActions"]
        if "taskRun" in a["definition"]
    ]
    assert listed[0] == batch[-1]
    assert len(listed) > 1
