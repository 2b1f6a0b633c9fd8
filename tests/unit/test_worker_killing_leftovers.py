"""Killing what a worker's tasks left running: by owner token, by recorded group, never a stranger."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from farmhand.worker._task_processes import OWNER_VARIABLE, TaskProcesses, kill_task_processes

pytestmark = pytest.mark.timeout(60)


def alive(pids: list[int]) -> list[int]:
    found = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_for_pids(path: Path, count: int) -> list[int]:
    give_up = time.monotonic() + 20
    while time.monotonic() < give_up:
        if path.exists() and len(pids := [int(p) for p in path.read_text().split()]) >= count:
            return pids
        time.sleep(0.02)
    raise AssertionError(f"{path} did not list {count} processes")


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, 9)
        process.wait(5)


def task_tree(tmp_path: Path, owner: str | None, spawned: list[subprocess.Popen[bytes]]) -> list[int]:
    """What openjd starts: a new session whose shell leaves a daemon, a plain child and an `env -i` one."""
    pids = tmp_path / "pids"
    script = (
        f"echo $$ >> {pids}; sleep 600 & echo $! >> {pids}; "
        f"( setsid sleep 600 & echo $! >> {pids} ); env -i sleep 600 & echo $! >> {pids}; wait"
    )
    env = dict(os.environ)
    if owner:
        env[OWNER_VARIABLE] = owner
    spawned.append(subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True))
    return wait_for_pids(pids, 4)


def test_the_owner_token_finds_the_tree_and_its_group_even_unrecorded(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # Given a task tree carrying the token, whose group was never recorded
    pids = task_tree(tmp_path, "owner-1", spawned)
    # When the owner's processes are killed
    found = kill_task_processes("owner-1", [])
    # Then all are gone: the daemon (own session, token), and the `env -i` child (token's group)
    assert found >= 3 and not alive(pids)


def test_a_recorded_group_is_killed_after_its_leader_is_gone(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # Given a group without the token whose leader has exited, leaving a member behind
    pids = tmp_path / "pids"
    leader = subprocess.Popen(
        ["bash", "-c", f"env -i sleep 600 & echo $! >> {pids}"],
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    spawned.append(leader)
    started = psutil.Process(leader.pid).create_time()
    [member] = wait_for_pids(pids, 1)
    leader.wait(10)
    # When the recorded group is killed
    kill_task_processes("owner-2", [(leader.pid, started)])
    # Then its remaining member is gone
    assert not alive([member])


def test_a_recycled_pid_is_never_signalled(tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    # Given a live group leader that is not the process that was recorded under its pid
    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    spawned.append(stranger)
    recorded_start = psutil.Process(stranger.pid).create_time() - 100
    # When that record is acted on
    kill_task_processes("owner-3", [(stranger.pid, recorded_start)])
    # Then the stranger lives
    assert alive([stranger.pid]) == [stranger.pid]


def test_the_guard_kills_the_tree_when_its_agent_goes(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # Given a guard for this life and a task tree of this life
    processes = TaskProcesses(tmp_path)
    assert processes.take_over() == 0
    assert oct((tmp_path / "task-processes.json").stat().st_mode & 0o777) == "0o600"
    processes.start_guard()
    pids = task_tree(tmp_path, processes.environment()[OWNER_VARIABLE], spawned)
    # When the agent's end of the pipe closes (as when it dies)
    processes.close()
    # Then the guard has killed the whole tree
    assert not alive(pids)


def test_a_new_life_kills_what_the_previous_one_recorded(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # Given a previous life whose tree is still running (its guard died with it)
    previous = TaskProcesses(tmp_path)
    previous.take_over()
    pids = task_tree(tmp_path, previous.owner, spawned)
    # When the next life takes over the data dir
    following = TaskProcesses(tmp_path)
    killed = following.take_over()
    # Then the previous tree is gone, and this life has a token of its own
    assert killed >= 3 and not alive(pids)
    assert following.owner != previous.owner


def test_started_task_groups_are_recorded_with_their_start_times(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # Given this life's record, a task process of this life and another child that is not a task
    processes = TaskProcesses(tmp_path)
    processes.take_over()
    env = {**os.environ, **processes.environment()}
    spawned.append(subprocess.Popen(["sleep", "600"], env=env, start_new_session=True))
    spawned.append(subprocess.Popen(["sleep", "600"], start_new_session=True))
    # When the agent notes what has started
    processes.note_started()
    # Then the task's group, and only it, is in the record, with its leader's start time
    record = json.loads((tmp_path / "task-processes.json").read_text())
    task = spawned[0].pid
    assert record["owner"] == processes.owner
    assert record["groups"] == [[task, pytest.approx(psutil.Process(task).create_time())]]
