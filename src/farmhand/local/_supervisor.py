"""The embedded farm's supervisor: one server and N workers as child processes, kept alive until stopped.

The supervisor owns the data directory's lock for its whole life, records its children in
`farm.json`, restarts a server or worker that dies, and stops workers before the server so that
they can report their last results.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .._database_url import DATABASE_URL_ENV, DATABASE_URL_FILE_ENV
from .._private_files import make_private_dir, make_tree_private, open_private
from ..client.config import FarmProfile, aws_config_path, aws_credentials_path, write_farm_profile
from ._bootstrap import FarmResources, bootstrap_farm
from ._restart_backoff import RestartBackoff
from ._state import (
    FarmLock,
    FarmState,
    admin_session,
    local_endpoint,
    read_admin_keys,
    read_state,
    remove_state,
    terminate_processes,
    write_state,
)

READY_MARKER = "farmhand server ready at "
# What only the server may see: workers (and the jobs they run) never get these. The database URL
# may hold a password: the server gets it in its environment (argv shows in `ps`).
_SERVER_ONLY = (DATABASE_URL_ENV, DATABASE_URL_FILE_ENV, "FARMHAND_SECRET_KEY")
# What the supervisor keeps in the data directory, made private on every start.
_SUPERVISOR_FILES = ("logs", "farm.json", "farm.lock", "workers")
DEFAULT_PORT = 8080
SERVER_START_TIMEOUT = 60.0
# A child that ran this long before it died is restarted at once again, whatever happened before.
RESTART_BACKOFF_RESET_SECONDS = 60.0
DETACH_TIMEOUT = 120.0
# Once the workers are gone, how long the server may spend finishing requests before it is hurried.
SERVER_HURRY_SECONDS = 2.0
# Variables that would override the profile the workers are given.
_PROFILE_OVERRIDES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DEADLINE",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_S3",
)


class FarmStartError(RuntimeError):
    """The farm could not start; the message says why in one line a user can act on."""


class FarmAlreadyRunning(FarmStartError):
    def __init__(self, state: FarmState | None) -> None:
        self.state = state
        where = f" at {state.url}" if state and state.url else ""
        super().__init__(f"a farm is already running{where}")


@dataclass(frozen=True)
class FarmOptions:
    data_dir: Path
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    workers: int = 1
    profile_name: str = "farmhand"
    set_defaults: bool = True
    database_url: str | None = None
    # External S3-compatible stores (the server's --object-stores file), and the one of their buckets
    # the Default queue keeps its job attachments in.
    object_stores: Path | None = None
    attachments_bucket: str | None = None
    restart_backoff_reset_seconds: float = RESTART_BACKOFF_RESET_SECONDS
    # TLS options passed on to `farmhand server` (--tls, --tls-cert/--tls-key, --tls-name, --insecure-http)
    # and the CA bundle that verifies the server's certificate (written into the profile).
    server_tls_args: tuple[str, ...] = ()
    ca_bundle: str | None = None
    # The server's per-worker failure cap per job (None: the server's default; 0: no cap).
    worker_failure_cap: int | None = None


def port_is_free(host: str, port: int) -> bool:
    if port == 0:
        return True
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if the supervisor dies, even by kill -9, so nothing is orphaned."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class _Child:
    """One supervised process and how often it has had to be restarted."""

    def __init__(
        self,
        name: str,
        command: list[str],
        log_path: Path,
        env: dict[str, str],
        *,
        backoff_reset_seconds: float = RESTART_BACKOFF_RESET_SECONDS,
    ) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.backoff = RestartBackoff(reset_after_seconds=backoff_reset_seconds)
        self.started_at = 0.0
        self.next_start = 0.0
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, stdout: int | IO[bytes] | None = None) -> None:
        self.close_log()
        self._log = open_private(self.log_path)
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else self._log,
            stderr=subprocess.STDOUT if stdout is not None else self._log,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.started_at = time.monotonic()

    def schedule_restart(self) -> float:
        """Back off when a child keeps dying right after it starts (see `RestartBackoff`)."""
        delay = self.backoff.delay_after(time.monotonic() - self.started_at)
        self.next_start = time.monotonic() + delay
        return delay

    def stop(self, grace_seconds: float, hurry_after: float | None = None) -> None:
        """SIGTERM; with `hurry_after`, a SIGINT after that many seconds (the server then stops
        waiting for requests that nobody reads any more, such as the long polls of stopped workers);
        SIGKILL when the grace period is over."""
        if self.process is None or self.process.poll() is not None:
            self.close_log()
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            if hurry_after is not None:
                try:
                    self.process.wait(hurry_after)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        self.process.send_signal(signal.SIGINT)
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.close_log()

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Supervisor:
    """Start, watch and stop one embedded farm."""

    def __init__(self, options: FarmOptions, *, announce: Callable[[str], None] = print) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.logs_dir = self.data_dir / "logs"
        self.announce = announce
        self.lock = FarmLock(self.data_dir)
        self.stopping = threading.Event()
        self.state = FarmState(data_dir=str(self.data_dir), supervisor_pid=os.getpid())
        self.server: _Child | None = None
        self.workers: list[_Child] = []
        self.resources: FarmResources | None = None
        self.url = ""
        self._port = options.port

    # ----- starting -------------------------------------------------------------------------------

    def start(self) -> FarmState:
        """Bring the farm up; returns once the server answers and the workers are started."""
        make_private_dir(self.data_dir)
        make_private_dir(self.logs_dir)
        if not self.lock.acquire():
            raise FarmAlreadyRunning(read_state(self.data_dir))
        try:
            make_tree_private(self.data_dir, _SUPERVISOR_FILES)
            self._clean_up_after_a_crash()
            self._save_state()
            if not port_is_free(self.options.host, self._port):
                raise FarmStartError(
                    f"port {self._port} on {self.options.host} is already in use; "
                    "choose another with --port (0 picks a free one)"
                )
            self.state.workers = self.options.workers
            self.state.profile_name = self.options.profile_name
            self.state.ca_bundle = self.options.ca_bundle or ""
            self._start_server()
            self._bootstrap()
            for index in range(self.options.workers):
                self.workers.append(self._worker_child(index + 1))
                self.workers[-1].start()
            self.state.ready = True
            self._save_state()
            return self.state
        except BaseException:
            self.stop()
            raise

    def _clean_up_after_a_crash(self) -> None:
        """A supervisor killed with -9 may leave its server or workers behind: stop them first."""
        previous = read_state(self.data_dir)
        if previous is not None:
            terminate_processes(previous.child_pids(), self.data_dir, grace_seconds=10)
            remove_state(self.data_dir)

    def _start_server(self) -> None:
        command = [
            sys.executable,
            "-m",
            "farmhand.server",
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.options.host,
            "--port",
            str(self._port),
        ]
        env = _without_profile_overrides()
        env.pop(DATABASE_URL_ENV, None)
        if self.options.database_url:
            env[DATABASE_URL_ENV] = self.options.database_url
        if self.options.object_stores:
            command += ["--object-stores", str(self.options.object_stores)]
        if self.options.worker_failure_cap is not None:
            command += ["--worker-failure-cap", str(self.options.worker_failure_cap)]
        command += list(self.options.server_tls_args)
        self.server = _Child(
            "server",
            command,
            self.logs_dir / "server.log",
            env,
            backoff_reset_seconds=self.options.restart_backoff_reset_seconds,
        )
        self.server.start(stdout=subprocess.PIPE)
        self.url = self._wait_for_server(self.server)
        self._port = int(self.url.rsplit(":", 1)[1])
        self.state.url = self.url
        self.state.port = self._port
        self._save_state()

    def _wait_for_server(self, child: _Child) -> str:
        """Copy the server's output to its log and return the URL it announces."""
        assert child.process is not None and child.process.stdout is not None
        found: list[str] = []
        ready = threading.Event()
        stream = child.process.stdout
        log_path = child.log_path

        def pump() -> None:
            with open_private(log_path) as log:
                for raw in iter(stream.readline, b""):
                    log.write(raw)
                    log.flush()
                    line = raw.decode(errors="replace")
                    if READY_MARKER in line and not found:
                        found.append(line.split(READY_MARKER, 1)[1].split()[0])
                        ready.set()
            ready.set()

        threading.Thread(target=pump, name="server-output", daemon=True).start()
        if not ready.wait(SERVER_START_TIMEOUT) or not found:
            child.stop(5)
            tail = _tail(log_path)
            errors = [
                line.removeprefix("Error: ") for line in tail.split(" / ") if line.startswith("Error: ")
            ]
            # The server says what is wrong in one `Error:` line; else its last lines are the clue.
            raise FarmStartError(
                f"the farm server did not start: {errors[-1] if errors else tail or 'no output'}"
            )
        return found[0]

    def _bootstrap(self) -> None:
        from botocore.config import Config

        access_key, secret_key = read_admin_keys(self.data_dir)
        session = admin_session(self.data_dir, self.options.ca_bundle)
        endpoint = local_endpoint(self.url)
        deadline = session.client("deadline", endpoint_url=endpoint, config=Config(inject_host_prefix=False))
        sts = session.client("sts", endpoint_url=endpoint)
        account_id = sts.get_caller_identity()["Account"]
        s3 = session.client("s3", endpoint_url=endpoint)
        self.resources = bootstrap_farm(
            deadline, account_id, s3=s3, attachments_bucket=self.options.attachments_bucket
        )
        profile = FarmProfile(
            name=self.options.profile_name,
            endpoint_url=local_endpoint(self.url),
            access_key_id=access_key,
            secret_access_key=secret_key,
            s3_endpoint_url=self._attachments_endpoint(),
            ca_bundle=self.options.ca_bundle,
        )
        write_farm_profile(profile)
        if self.options.set_defaults:
            from ._deadline_defaults import set_deadline_defaults

            set_deadline_defaults(
                profile.name, self.resources.farm_id, self.resources.queue_id, profile.region
            )
        self.state.farm_id = self.resources.farm_id
        self.state.queue_id = self.resources.queue_id
        self.state.fleet_id = self.resources.fleet_id
        self._save_state()

    def _attachments_endpoint(self) -> str | None:
        """Where clients and workers reach the Default queue's bucket, when it is not the farm."""
        if not (self.options.object_stores and self.options.attachments_bucket):
            return None
        from ..server.buckets import load_external_stores

        for store in load_external_stores(self.options.object_stores):
            if self.options.attachments_bucket in store.config.buckets:
                return store.endpoint_url
        raise FarmStartError(
            f"bucket {self.options.attachments_bucket} is not in any store of {self.options.object_stores}"
        )

    def _worker_child(self, number: int) -> _Child:
        assert self.resources is not None
        worker_dir = make_private_dir(make_private_dir(self.data_dir / "workers") / f"worker-{number}")
        command = [
            sys.executable,
            "-m",
            "farmhand.worker",
            "--farm-id",
            self.resources.farm_id,
            "--fleet-id",
            self.resources.fleet_id,
            "--profile",
            self.options.profile_name,
            "--data-dir",
            str(worker_dir),
        ]
        # The farm's own store is on this host: inputs it holds are read from its files (others, e.g.
        # in an external store, still come through S3).
        command += ["--farm-objects-dir", str(self.data_dir / "objects")]
        env = _without_profile_overrides()
        for name in _SERVER_ONLY:
            env.pop(name, None)
        env["AWS_CONFIG_FILE"] = str(aws_config_path().resolve())
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(aws_credentials_path().resolve())
        return _Child(
            f"worker {number}",
            command,
            self.logs_dir / f"worker-{number}.log",
            env,
            backoff_reset_seconds=self.options.restart_backoff_reset_seconds,
        )

    # ----- running --------------------------------------------------------------------------------

    def watch_once(self) -> None:
        """Restart whatever died; called about twice a second while the farm runs."""
        if self.stopping.is_set():
            return
        changed = False
        now = time.monotonic()
        assert self.server is not None
        if not self.server.alive():
            if self.server.next_start == 0.0:
                code = self.server.process.returncode if self.server.process else None
                delay = self.server.schedule_restart()
                self.announce(f"the farm server exited (code {code}); restarting in {delay:.0f} s")
            elif now >= self.server.next_start:
                self.server.next_start = 0.0
                self.server.command[self.server.command.index("--port") + 1] = str(self._port)
                self.server.start(stdout=subprocess.PIPE)
                try:
                    self._wait_for_server(self.server)
                    self.announce("the farm server is back")
                except FarmStartError as error:
                    self.announce(str(error))
                changed = True
        for worker in self.workers:
            if worker.alive():
                continue
            if worker.next_start == 0.0:
                code = worker.process.returncode if worker.process else None
                delay = worker.schedule_restart()
                self.announce(f"{worker.name} exited (code {code}); restarting in {delay:.0f} s")
            elif now >= worker.next_start:
                worker.next_start = 0.0
                worker.start()
                changed = True
        if changed:
            self._save_state()

    def run(self, on_tick: Callable[[], None] | None = None, interval: float = 0.5) -> None:
        """Watch the children until `stopping` is set, then stop them."""
        try:
            while not self.stopping.wait(interval):
                self.watch_once()
                if on_tick is not None:
                    on_tick()
        finally:
            self.stop()

    def workers_alive(self) -> int:
        return sum(1 for worker in self.workers if worker.alive())

    # ----- stopping -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Workers first (so they can report their last results), then the server; then the lock."""
        self.stopping.set()
        threads = [threading.Thread(target=worker.stop, args=(20.0,), daemon=True) for worker in self.workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.server is not None:
            self.server.stop(15.0, hurry_after=SERVER_HURRY_SECONDS)
        remove_state(self.data_dir)
        self.lock.release()

    def _save_state(self) -> None:
        self.state.server_pid = self.server.pid if self.server else None
        self.state.worker_pids = [pid for pid in (worker.pid for worker in self.workers) if pid]
        write_state(self.state)


def _without_profile_overrides() -> dict[str, str]:
    """The environment for children: nothing that would override the profile the farm wrote."""
    return {key: value for key, value in os.environ.items() if key not in _PROFILE_OVERRIDES}


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return " / ".join(line.strip() for line in text[-lines:])


def run_supervisor_forever(options: FarmOptions, announce: Callable[[str], None] = print) -> int:
    """The detached supervisor's main: start, then run until SIGTERM/SIGINT; exit code for the shell."""
    supervisor = Supervisor(options, announce=announce)

    def request_stop(signum: int, frame: Any) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        supervisor.start()
    except FarmStartError as error:
        announce(f"Error: {error}")
        return 1
    except Exception as error:  # anything else still ends with one line the caller can show
        import traceback

        traceback.print_exc()
        announce(f"Error: {type(error).__name__}: {error}")
        return 1
    announce(f"farm ready at {supervisor.url}")
    supervisor.run()
    announce("farm stopped")
    return 0


def _supervisor_command(options: FarmOptions) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "farmhand.local",
        "--data-dir",
        str(options.data_dir),
        "--port",
        str(options.port),
        "--host",
        options.host,
        "--workers",
        str(options.workers),
        "--profile-name",
        options.profile_name,
    ]
    if not options.set_defaults:
        command.append("--no-defaults")
    if options.object_stores:
        command += ["--object-stores", str(options.object_stores)]
    if options.attachments_bucket:
        command += ["--attachments-bucket", options.attachments_bucket]
    for argument in options.server_tls_args:
        command += ["--server-arg", argument]
    if options.ca_bundle:
        command += ["--ca-bundle", options.ca_bundle]
    if options.worker_failure_cap is not None:
        command += ["--worker-failure-cap", str(options.worker_failure_cap)]
    return command


def start_supervisor_process(
    options: FarmOptions, *, env: dict[str, str] | None = None, timeout: float = DETACH_TIMEOUT
) -> tuple[FarmState, subprocess.Popen[bytes]]:
    """Start a detached supervisor and wait until its farm is ready; raise with its log when it fails."""
    make_private_dir(options.data_dir / "logs")
    make_private_dir(options.data_dir)
    log_path = options.data_dir / "logs" / "farm.log"
    child_env = dict(os.environ if env is None else env)
    child_env.pop(DATABASE_URL_ENV, None)
    if options.database_url:
        child_env[DATABASE_URL_ENV] = options.database_url
    with open_private(log_path) as log:
        process = subprocess.Popen(
            _supervisor_command(options),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=child_env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(options.data_dir)
        if state is not None and state.supervisor_pid == process.pid and state.ready:
            return state, process
        if process.poll() is not None:
            raise FarmStartError(_last_error(log_path) or f"the farm exited with code {process.returncode}")
        time.sleep(0.1)
    process.terminate()
    raise FarmStartError(f"the farm did not become ready within {timeout:.0f} s; see {log_path}")


def _last_error(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").strip().splitlines()
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line.removeprefix("Error: ")
    return lines[-1] if lines else ""
