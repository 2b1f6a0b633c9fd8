"""What a running embedded farm leaves in its data directory so that `status`, `down` and a second
`up` can find it: a lock held for the supervisor's whole life and a JSON file with its processes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from .._private_files import PRIVATE_FILE_MODE, make_private_dir, write_private_text

STATE_FILE = "farm.json"
LOCK_FILE = "farm.lock"
ADMIN_CREDENTIALS_FILE = "admin-credentials.json"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "farmhand"


@dataclass
class FarmState:
    """The supervisor's record of its farm, rewritten whenever a process starts or stops."""

    data_dir: str
    supervisor_pid: int
    ready: bool = False
    url: str = ""
    port: int = 0
    server_pid: int | None = None
    worker_pids: list[int] = field(default_factory=list)
    workers: int = 0
    farm_id: str = ""
    queue_id: str = ""
    fleet_id: str = ""
    profile_name: str = ""
    ca_bundle: str = ""  # the CA that verifies the server's TLS certificate ("" : plain HTTP or public CA)
    started_at: float = field(default_factory=time.time)

    def child_pids(self) -> list[int]:
        return [pid for pid in [self.server_pid, *self.worker_pids] if pid]


def write_state(state: FarmState) -> None:
    write_private_text(Path(state.data_dir) / STATE_FILE, json.dumps(asdict(state), indent=2))


def read_state(data_dir: Path) -> FarmState | None:
    try:
        doc = json.loads((data_dir / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return FarmState(**doc)


def remove_state(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


class FarmLock:
    """An exclusive `flock` on `farm.lock`: the kernel drops it when the supervisor dies, even by kill -9."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        make_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        handle = os.fdopen(fd, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def farm_is_running(data_dir: Path) -> bool:
    """True while some supervisor holds the data directory's lock."""
    if not (data_dir / LOCK_FILE).exists():
        return False
    probe = FarmLock(data_dir)
    if probe.acquire():
        probe.release()
        return False
    return True


def running_farm(data_dir: Path) -> FarmState | None:
    """The state of the farm running in this data directory, if one is."""
    if not farm_is_running(data_dir):
        return None
    return read_state(data_dir)


def is_our_process(pid: int, data_dir: Path) -> bool:
    """A live process whose command line names this data directory (pids get reused)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return str(data_dir) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def terminate_processes(pids: list[int], data_dir: Path, *, grace_seconds: float = 15.0) -> None:
    """SIGTERM the farm's own processes among `pids`, then SIGKILL whatever outlives the grace period."""
    alive = [pid for pid in pids if is_our_process(pid, data_dir)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if is_our_process(pid, data_dir)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def read_admin_keys(data_dir: Path) -> tuple[str, str]:
    """The admin access key the server wrote on its first start."""
    doc: dict[str, Any] = json.loads((data_dir / ADMIN_CREDENTIALS_FILE).read_text())
    return str(doc["aws_access_key_id"]), str(doc["aws_secret_access_key"])


def admin_session(data_dir: Path, ca_bundle: str | None = None) -> Any:
    """A boto3 session signed with the farm's admin key that ignores AWS_PROFILE and the user's files
    (and verifies the farm's TLS certificate with `ca_bundle` when given)."""
    import boto3
    import botocore.session

    access_key, secret_key = read_admin_keys(data_dir)
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    core.set_credentials(access_key, secret_key)
    if ca_bundle:
        core.set_config_variable("ca_bundle", ca_bundle)
    return boto3.Session(botocore_session=core, region_name="us-west-2")


def local_endpoint(url: str) -> str:
    """The URL this machine's clients use: a server listening on every address is reached on loopback
    (an address its TLS certificate names)."""
    for wildcard in ("//0.0.0.0:", "//[::]:"):
        if wildcard in url:
            return url.replace(wildcard, "//127.0.0.1:" if "0.0.0.0" in wildcard else "//[::1]:")
    return url
