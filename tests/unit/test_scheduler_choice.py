"""Which job and step a worker gets next (pure)."""

from __future__ import annotations

import datetime as dt

from farmhand.server.scheduler import (
    JobOption,
    StepOption,
    WorkerState,
    choose_work,
    requirements_from_api,
    worker_capabilities_from_api,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LINUX = worker_capabilities_from_api(
    {
        "amounts": [{"name": "amount.worker.vcpu", "value": 4}],
        "attributes": [{"name": "attr.worker.os.family", "values": ["linux"]}],
    }
)


def job(
    job_id: str,
    priority: int = 50,
    age: int = 0,
    steps: tuple[StepOption, ...] | None = None,
    **extra: object,
) -> JobOption:
    return JobOption(
        job_id=job_id,
        queue_id="queue-1",
        priority=priority,
        created_at=T0 + dt.timedelta(seconds=age),
        steps=steps if steps is not None else (StepOption(f"{job_id}-step", 3),),
        **extra,  # type: ignore[arg-type]
    )


def worker(**extra: object) -> WorkerState:
    return WorkerState("worker-1", LINUX, **extra)  # type: ignore[arg-type]


def test_highest_priority_then_oldest_first() -> None:
    jobs = [job("low", 10), job("new", 90, age=5), job("old", 90, age=1)]
    choice = choose_work(worker(), jobs)
    assert choice is not None and choice.job_id == "old" and not choice.keeps_session


def test_nothing_to_do_without_ready_steps() -> None:
    assert choose_work(worker(), [job("a", steps=(StepOption("s", 0),))]) is None
    assert choose_work(worker(), []) is None


def test_max_worker_count_leaves_no_room_for_another_worker() -> None:
    full = job("full", 90, max_worker_count=1, workers_holding=1)
    other = job("other", 10)
    assert choose_work(worker(), [full, other]).job_id == "other"  # type: ignore[union-attr]
    # ... but the worker already holding the job keeps it
    kept = choose_work(worker(session_job_id="full", session_step_id="full-step"), [full, other])
    assert kept is not None and kept.job_id == "full" and kept.keeps_session


def test_unlimited_max_worker_count() -> None:
    assert choose_work(worker(), [job("a", max_worker_count=-1, workers_holding=50)]) is not None


def test_host_requirements_pick_the_steps_a_worker_can_run() -> None:
    gpu = StepOption(
        "gpu-step", 5, requirements_from_api({"amounts": [{"name": "amount.worker.gpu", "min": 1}]})
    )
    cpu = StepOption(
        "cpu-step",
        5,
        requirements_from_api({"attributes": [{"name": "attr.worker.os.family", "anyOf": ["linux"]}]}),
    )
    choice = choose_work(worker(), [job("a", steps=(gpu, cpu))])
    assert choice is not None and choice.step_id == "cpu-step"
    assert choose_work(worker(), [job("b", steps=(gpu,))]) is None


def test_a_worker_keeps_its_session_and_step_unless_a_higher_priority_job_waits() -> None:
    current = job("mine", 50, age=9, steps=(StepOption("s1", 2), StepOption("s2", 2)))
    older_same_priority = job("older", 50, age=0)
    me = worker(session_job_id="mine", session_step_id="s2")
    choice = choose_work(me, [current, older_same_priority])
    assert choice is not None and (choice.job_id, choice.step_id, choice.keeps_session) == (
        "mine",
        "s2",
        True,
    )
    urgent = job("urgent", 99, age=20)
    assert choose_work(me, [current, urgent]).job_id == "urgent"  # type: ignore[union-attr]


def test_a_session_serves_one_step_so_another_step_is_not_kept() -> None:
    # Given a worker whose session's step has nothing ready, while another step of its job has
    current = job("mine", 50, age=9, steps=(StepOption("s1", 2),))
    me = worker(session_job_id="mine", session_step_id="s2")
    # Then the choice is a new session (for the older job of the same priority first)
    older = job("older", 50, age=0)
    choice = choose_work(me, [current, older])
    assert choice is not None and (choice.job_id, choice.keeps_session) == ("older", False)
    alone = choose_work(me, [current])
    assert alone is not None and (alone.job_id, alone.step_id, alone.keeps_session) == ("mine", "s1", False)


def test_failure_cap_excludes_a_job_for_that_worker_only() -> None:
    jobs = [job("flaky", 90), job("other", 10)]
    assert choose_work(worker(failures_by_job={"flaky": 3}), jobs, failure_cap=3).job_id == "other"  # type: ignore[union-attr]
    assert choose_work(worker(failures_by_job={"flaky": 2}), jobs, failure_cap=3).job_id == "flaky"  # type: ignore[union-attr]
    assert choose_work(worker(failures_by_job={"flaky": 9}), jobs, failure_cap=0).job_id == "flaky"  # type: ignore[union-attr]


def test_a_lifted_failure_cap_lets_the_capped_worker_take_the_job_again() -> None:
    jobs = [job("flaky", 90), job("other", 10)]
    lifted = worker(failures_by_job={"flaky": 3}, cap_lifted_jobs=frozenset({"flaky"}))
    assert choose_work(lifted, jobs, failure_cap=3).job_id == "flaky"  # type: ignore[union-attr]


def test_batches_grow_only_when_ready_work_dwarfs_the_workers() -> None:
    from farmhand.server.scheduler import MAX_TASK_BATCH, task_batch

    assert task_batch(1, 1) == 1
    assert task_batch(3, 2) == 1  # little work: one task at a time, spread over workers
    assert task_batch(40, 2) == 10
    assert task_batch(100_000, 2) == MAX_TASK_BATCH
    assert task_batch(0, 0) == 1
