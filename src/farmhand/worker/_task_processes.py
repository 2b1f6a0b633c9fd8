"""Task processes never outlive their worker agent, even one killed with SIGKILL.

openjd-sessions starts every action in a session (and process group) of its own, so a process tree
it starts survives the agent. Three things make sure it does not run on:

* Every life of the agent has an owner token that all its task processes carry in their
  environment (`FARMHAND_TASK_OWNER`, inherited by their children), and the agent records the
  process groups it started, with each leader's start time, in `task-processes.json` (0600) in its
  data dir. The token is recorded before the first task starts.
* A guard process, started by the agent, waits on a pipe from it. When the agent dies, however it
  dies, the pipe closes and the guard kills every process that carries the token and every
  recorded group (SIGKILL), then exits. It ignores SIGINT/SIGTERM/SIGHUP so that it outlives the
  agent.
* An agent that starts kills what its previous life left (if the guard could not: it was killed
  too, or the host was rebooted mid-sweep) before it registers, so a task is never run twice at once.

A recorded group is killed only if its leader is gone or is still the process recorded (same start
time): a recycled pid is never signalled. The token finds processes that left the group (setsid,
daemons); the groups, recorded or those of processes carrying the token, find processes that
dropped the environment (`env -i`).

This file is also the guard's program: it is run by path (`python -P _task_processes.py ...`) so
the guard starts without importing the worker (boto3, openjd), and it imports only psutil.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import psutil

__all__ = ["OWNER_VARIABLE", "TaskProcesses", "kill_task_processes"]

OWNER_VARIABLE = "FARMHAND_TASK_OWNER"
RECORD_NAME = "task-processes.json"
KILL_TIMEOUT_SECONDS = 10.0
_START_TIME_TOLERANCE = 0.05  # psutil start times are rounded to the clock tick


def _read_record(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_record(path: Path, owner: str, groups: Iterable[tuple[int, float]]) -> None:
    """Atomically, created 0600: a reader sees the old record or the new one, never a part."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"owner": owner, "groups": [[pid, started] for pid, started in groups]}, out)
    os.replace(temporary, path)


def _groups_of(record: dict[str, Any]) -> list[tuple[int, float]]:
    groups = []
    for entry in record.get("groups") or []:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            groups.append((int(entry[0]), float(entry[1])))
    return groups


def _same_process(pid: int, started: float) -> bool | None:
    """True: `pid` is the process that started at `started`; False: another one; None: no such pid."""
    try:
        return abs(psutil.Process(pid).create_time() - started) <= _START_TIME_TOLERANCE
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:
        return False


def _signal_group(pgid: int, signum: int) -> bool:
    """Signal a process group; False when it has no member left (or is not ours to signal)."""
    if not hasattr(os, "killpg"):
        return False
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _leftovers(owner: str, groups: set[int], me: int) -> list[psutil.Process]:
    """Live (not zombie) processes of this user that carry the owner token or belong to a group."""
    found = []
    for process in psutil.process_iter():
        if process.pid == me:
            continue
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(process.pid) in groups or process.environ().get(OWNER_VARIABLE) == owner:
                found.append(process)
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or another user's
    return found


def kill_task_processes(
    owner: str, groups: Iterable[tuple[int, float]], timeout: float = KILL_TIMEOUT_SECONDS
) -> int:
    """SIGKILL every process carrying `owner` or in a recorded group; returns how many there were.

    Repeats until none is left (a process may fork while it is being killed) or `timeout` passes.
    """
    me = os.getpid()
    own_group = os.getpgid(0)
    # Only groups whose leader is gone or is still the recorded process are ever signalled.
    wanted = {
        pgid for pgid, started in groups if pgid != own_group and _same_process(pgid, started) is not False
    }
    killed: set[int] = set()
    give_up = time.monotonic() + timeout
    while True:
        victims = _leftovers(owner, wanted, me)
        # The group of a process carrying the token is a task's group: its members that dropped the
        # environment go too, even when the agent died before it could record the group.
        for process in victims:
            with contextlib.suppress(OSError):
                if (pgid := os.getpgid(process.pid)) != own_group:
                    wanted.add(pgid)
        for pgid in wanted:
            _signal_group(pgid, signal.SIGKILL)
        for process in victims:
            with contextlib.suppress(psutil.Error):
                process.kill()
            killed.add(process.pid)
        if not victims or time.monotonic() > give_up:
            return len(killed)
        psutil.wait_procs(victims, timeout=0.2)


class TaskProcesses:
    """One agent life's record of the task processes it starts, and its guard."""

    def __init__(self, data_dir: Path) -> None:
        self.record = data_dir / RECORD_NAME
        self.owner = secrets.token_hex(16)
        self._groups: dict[int, float] = {}
        self._lock = threading.Lock()  # sessions record from their own threads
        self._guard: subprocess.Popen[bytes] | None = None
        self._pipe: IO[bytes] | None = None

    def environment(self) -> dict[str, str]:
        """Variables every task process of this life gets."""
        return {OWNER_VARIABLE: self.owner}

    def take_over(self) -> int:
        """Kill what the previous life left running, then record this life (before any task starts).

        Returns the number of processes killed.
        """
        previous = _read_record(self.record)
        killed = 0
        if previous.get("owner"):
            killed = kill_task_processes(str(previous["owner"]), _groups_of(previous))
        _write_record(self.record, self.owner, [])
        return killed

    def start_guard(self) -> None:
        """Start the process that kills this life's task processes when the agent dies."""
        self._guard = subprocess.Popen(
            [sys.executable, "-P", str(Path(__file__).resolve()), str(self.record), self.owner],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            close_fds=True,
        )
        self._pipe = self._guard.stdin

    @property
    def guard_pid(self) -> int | None:
        return self._guard.pid if self._guard is not None else None

    def note_started(self) -> None:
        """Record the process groups of task processes started since the last call (cheap: no scan)."""
        with self._lock:
            self._note_started()

    def _note_started(self) -> None:
        changed = False
        for pid in _children():
            if pid in self._groups or pid == self.guard_pid:
                continue
            try:
                process = psutil.Process(pid)
                if process.environ().get(OWNER_VARIABLE) != self.owner:
                    continue
                self._groups[pid] = process.create_time()
            except psutil.Error:
                continue  # already gone: nothing to record
            changed = True
        for pid, started in list(self._groups.items()):
            if not _same_process(pid, started):
                del self._groups[pid]
                changed = True
        if changed:
            _write_record(self.record, self.owner, self._groups.items())

    def close(self, timeout: float = KILL_TIMEOUT_SECONDS + 5) -> None:
        """The agent is done: the guard kills whatever is left of its tasks and exits."""
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()
            self._pipe = None
        if self._guard is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._guard.wait(timeout)
            self._guard = None


def _children() -> list[int]:
    """This process's child pids: Linux reads them per thread from /proc; elsewhere psutil scans."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    if tasks.is_dir():
        pids: list[int] = []
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in (task / "children").read_text().split()]
        return pids
    return [child.pid for child in psutil.Process().children()]


def _guard_main(argv: list[str]) -> int:
    """The guard: wait for the agent to go (EOF on stdin), then kill its task processes."""
    record, owner = Path(argv[0]), argv[1]
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(4096):
            pass
    doc = _read_record(record)
    groups = _groups_of(doc) if doc.get("owner") == owner else []
    killed = kill_task_processes(owner, groups)
    if killed:
        print(f"farmhand task guard: killed {killed} task processes the worker left", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_guard_main(sys.argv[1:]))
