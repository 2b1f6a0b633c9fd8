"""What one worker agent needs to know: which fleet it serves, where it keeps its state, how it polls."""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .._private_files import PRIVATE_FILE_MODE, make_private_dir, make_tree_private
from .._spread_directories import spread_subdirectories
from ..job_attachments import default_content_cache_dir

# What an agent keeps in its data dir (a user's --data-dir may hold other things: those are left be).
DATA_DIR_ENTRIES = (
    "worker.json",
    "agent.lock",
    "task-processes.json",
    "credentials",
    "queues",
    "sessions",
    "logs",
)


def default_data_dir() -> Path:
    """`~/.local/share/farmhand-worker` (under XDG_DATA_HOME when it is set), beside `farmhand up`'s."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "farmhand-worker"


@dataclass
class WorkerConfig:
    farm_id: str
    fleet_id: str
    data_dir: Path = field(default_factory=default_data_dir)
    profile: str | None = None
    region: str | None = None
    # How long the server may hold an UpdateWorkerSchedule while this worker is idle (long poll).
    poll_wait_seconds: int = 10
    # Upper bound on the wait between polls, whatever updateIntervalSeconds the server answers.
    max_update_interval_seconds: float = 30.0
    # How often buffered log events are sent.
    log_flush_seconds: float = 1.0
    # How long a drain (SIGTERM) waits for running actions to stop.
    drain_timeout_seconds: float = 30.0
    # Keep session working directories after the session ends (debugging).
    retain_session_dirs: bool = False
    # The host's job-attachment content cache, shared by the workers of a user (None: no cache).
    attachment_cache_dir: Path | None = field(default_factory=default_content_cache_dir)
    # On the farm's own host: its object store directory, read by its files for inputs (None: the
    # S3 endpoint only). Needs the attachment cache.
    farm_objects_dir: Path | None = None
    _lock: IO[str] | None = field(default=None, repr=False, compare=False)

    @property
    def state_file(self) -> Path:
        """Where the worker id is kept across restarts."""
        return self.data_dir / "worker.json"

    @property
    def credentials_dir(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def queues_dir(self) -> Path:
        """Each queue's role credentials and the AWS profile its jobs read them through."""
        return self.data_dir / "queues"

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def logs_dir(self) -> Path:
        """Local copies of the worker log and of every session log."""
        return self.data_dir / "logs"

    def prepare(self) -> None:
        """Create the data dir and take it: two agents sharing one would be one worker twice.

        It holds credentials, the jobs' session directories and their logs, so it and everything in
        it is its owner's alone (0700/0600, whatever the umask), also what an older version left.
        """
        make_tree_private(self.data_dir, DATA_DIR_ENTRIES)
        for directory in (self.credentials_dir, self.queues_dir, self.sessions_dir, self.logs_dir):
            make_private_dir(directory)
        spread_subdirectories(self.sessions_dir)  # each session's files in a block group of their own
        if self._lock is None:
            lock_file = self.data_dir / "agent.lock"
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
            handle = os.fdopen(fd, "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                handle.close()
                raise DataDirInUseError(
                    f"another worker agent is using {self.data_dir}; give each worker its own --data-dir"
                ) from error
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._lock = handle

    def clear_stale_sessions(self) -> int:
        """Remove session directories a previous run of this agent left (it was killed mid-session)."""
        if self.retain_session_dirs:
            return 0
        removed = 0
        for entry in self.sessions_dir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


class DataDirInUseError(RuntimeError):
    """The data dir belongs to a running agent."""
