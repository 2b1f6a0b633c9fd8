"""A throw-away embedded farm for tests and scripts: real server, real workers, its own config files.

While a `LocalFarm` runs, the process environment points at it (like moto's mocks): the AWS config
and credentials files, the deadline config file and `AWS_PROFILE` are its own, so boto3 clients,
`farmhand.client.api` and the `deadline`/`farmhand` commands started from the test all reach it.
The previous environment comes back when it stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from farmhand.local import FarmOptions, FarmState, start_supervisor_process
from farmhand.statuses import TERMINAL_TASK_RUN_STATUSES

# Variables that would take the user's real AWS account or another farm into the test.
_HIDDEN_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DEADLINE",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_S3",
)
#: What `wait` stops on: a terminal task run status, or an archived job.
TERMINAL_STATUSES = (*TERMINAL_TASK_RUN_STATUSES, "ARCHIVED")


class LocalFarm:
    """`with LocalFarm(workers=2) as farm:` a farm on a free port in a temporary directory."""

    def __init__(
        self,
        workers: int = 1,
        *,
        directory: Path | None = None,
        profile_name: str = "farmhand",
        database_url: str | None = None,
        keep_directory: bool = False,
    ) -> None:
        self.workers = workers
        self.profile_name = profile_name
        self.database_url = database_url
        self._given_directory = directory
        self._keep_directory = keep_directory or directory is not None
        self.directory = Path()
        self.state: FarmState | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._saved_environment: dict[str, str | None] = {}

    # ----- where things are -----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def env(self) -> dict[str, str]:
        """The variables that point a process at this farm (already set in `os.environ` while it runs)."""
        return {
            "AWS_CONFIG_FILE": str(self.directory / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.directory / "aws" / "credentials"),
            "DEADLINE_CONFIG_FILE_PATH": str(self.directory / "deadline" / "config"),
            "AWS_PROFILE": self.profile_name,
        }

    def _require_state(self) -> FarmState:
        if self.state is None:
            raise RuntimeError("the farm is not running; use `with LocalFarm() as farm:`")
        return self.state

    @property
    def url(self) -> str:
        return self._require_state().url

    @property
    def farm_id(self) -> str:
        return self._require_state().farm_id

    @property
    def queue_id(self) -> str:
        return self._require_state().queue_id

    @property
    def fleet_id(self) -> str:
        return self._require_state().fleet_id

    @property
    def pids(self) -> list[int]:
        """The supervisor, the server and the workers."""
        state = self._require_state()
        return [state.supervisor_pid, *state.child_pids()]

    # ----- starting and stopping ------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> LocalFarm:
        self.directory = (
            Path(self._given_directory)
            if self._given_directory
            else Path(tempfile.mkdtemp(prefix="farmhand-"))
        ).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._point_environment_here()
        options = FarmOptions(
            data_dir=self.data_dir,
            port=0,
            workers=self.workers,
            profile_name=self.profile_name,
            database_url=self.database_url,
        )
        try:
            # The profile does not exist until the farm has written it: the supervisor starts without it.
            supervisor_env = {key: value for key, value in os.environ.items() if key != "AWS_PROFILE"}
            self.state, self._process = start_supervisor_process(options, env=supervisor_env, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        self._forget_cached_sessions()
        return self

    def stop(self) -> None:
        """Stop workers and server (nothing is left running) and put the environment back."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(60)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(10)
            self._process = None
        if self.state is not None:
            from farmhand.local._state import terminate_processes

            terminate_processes(self.state.child_pids(), self.data_dir, grace_seconds=5)
        self._restore_environment()
        self._forget_cached_sessions()
        if not self._keep_directory and self.directory != Path():
            shutil.rmtree(self.directory, ignore_errors=True)

    def _point_environment_here(self) -> None:
        wanted: dict[str, str | None] = {**self.env, **dict.fromkeys(_HIDDEN_VARIABLES)}
        self._saved_environment = {name: os.environ.get(name) for name in wanted}
        for name, value in wanted.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}

    @staticmethod
    def _forget_cached_sessions() -> None:
        """The client library caches sessions per profile; a new farm must not reuse the last one's."""
        with contextlib.suppress(Exception):
            from farmhand.client.api import get_boto3_session

            get_boto3_session(force_refresh=True)

    def __enter__(self) -> LocalFarm:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- using it -------------------------------------------------------------------------------

    def session(self) -> Any:
        import boto3

        return boto3.Session(profile_name=self.profile_name)

    def client(self, service: str) -> Any:
        """A boto3 client configured only through the profile the farm wrote."""
        return self.session().client(service)

    def submit(self, bundle_dir: str | Path, parameters: dict[str, Any] | None = None, **options: Any) -> str:
        """Submit a job bundle with the client library (`create_job_from_job_bundle`); returns the job id."""
        from farmhand.client.api import create_job_from_job_bundle

        job_id = create_job_from_job_bundle(
            str(bundle_dir),
            [{"name": name, "value": str(value)} for name, value in (parameters or {}).items()],
            print_function_callback=lambda *args, **kwargs: None,
            **options,
        )
        if not job_id:
            raise RuntimeError(f"the bundle {bundle_dir} was not submitted")
        return job_id

    def wait(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll GetJob until the job is in a terminal state; returns the GetJob response."""
        deadline_client = self.client("deadline")
        give_up = time.monotonic() + timeout
        delay = 0.1
        while True:
            job: dict[str, Any] = deadline_client.get_job(
                farmId=self.farm_id, queueId=self.queue_id, jobId=job_id
            )
            if job["taskRunStatus"] in TERMINAL_STATUSES and job["lifecycleStatus"] != "CREATE_IN_PROGRESS":
                return job
            if time.monotonic() > give_up:
                raise TimeoutError(f"job {job_id} is still {job['taskRunStatus']} after {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def log_lines(self, job_id: str, timeout: float = 30.0) -> list[str]:
        """Every line the job's sessions logged, session by session, oldest first.

        Workers ship logs in batches, so lines can land a moment after a task ends: this waits until
        every session has ended and two reads in a row agree (or `timeout` passes).
        """
        give_up = time.monotonic() + timeout
        previous: list[str] | None = None
        while True:
            sessions, lines = self._read_logs(job_id)
            settled = all(session.get("endedAt") for session in sessions)
            if (lines and settled and lines == previous) or time.monotonic() > give_up:
                return lines
            previous = lines
            time.sleep(0.5)

    def _read_logs(self, job_id: str) -> tuple[list[dict[str, Any]], list[str]]:
        deadline_client = self.client("deadline")
        logs = self.client("logs")
        sessions: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = deadline_client.list_sessions(
                farmId=self.farm_id,
                queueId=self.queue_id,
                jobId=job_id,
                **({"nextToken": token} if token else {}),
            )
            sessions += page.get("sessions", [])
            token = page.get("nextToken")
            if not token:
                break
        sessions.sort(key=lambda session: session["startedAt"])
        lines: list[str] = []
        for session in sessions:
            forward: str | None = None
            while True:
                try:
                    page = logs.get_log_events(
                        logGroupName=f"/aws/deadline/{self.farm_id}/{self.queue_id}",
                        logStreamName=session["sessionId"],
                        startFromHead=True,
                        **({"nextToken": forward} if forward else {}),
                    )
                except logs.exceptions.ResourceNotFoundException:
                    break  # nothing shipped for this session yet
                lines += [event["message"] for event in page.get("events", [])]
                if not page.get("events") or page.get("nextForwardToken") == forward:
                    break
                forward = page.get("nextForwardToken")
        return sessions, lines
