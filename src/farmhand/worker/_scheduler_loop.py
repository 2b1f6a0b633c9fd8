"""The UpdateWorkerSchedule loop: report what the sessions did, reconcile with what the farm assigns.

Every call carries all action updates recorded since the last successful call (a lost answer means
the same updates are sent again); the answer lists every live session with all of its pending
actions, which replace each session's local queue (spec: service semantics §5.4). A session the
answer no longer lists is ended. While idle the worker asks the farm to hold the call until work
arrives (`x-farmhand-wait-seconds`), so a ready task reaches it without waiting a poll interval;
while busy it polls every `updateIntervalSeconds`, and at once when a session finishes its last
queued action or an action does not succeed (completions inside a batch of tasks ride along with
the next poll, which keeps calls, and the farm's work, per task low).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ._config import WorkerConfig
from ._retry import CONNECTION_ERRORS, FARM_OUTAGE, error_code, is_transient, retry_delay
from ._session import SessionAction, SessionContext, WorkerSession, utcnow
from ._task_processes import TaskProcesses

log = logging.getLogger("farmhand.worker")

WAIT_HEADER = "x-farmhand-wait-seconds"
MIN_BUSY_INTERVAL = 0.2
MESSAGE_LIMIT = 4096


class ActionUpdates:
    """Action updates waiting to reach the farm; an update leaves only after a call carrying it succeeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, int] = {}
        self._counter = 0

    def _store(self, action_id: str, info: dict[str, Any]) -> None:
        self._counter += 1
        self._pending[action_id] = info
        self._versions[action_id] = self._counter

    def running(
        self,
        action_id: str,
        *,
        started_at: dt.datetime,
        progress: float | None = None,
        message: str | None = None,
    ) -> None:
        with self._lock:
            info = dict(self._pending.get(action_id) or {})
            if "completedStatus" in info:
                return  # a late progress callback never reopens a finished action
            info.update(startedAt=started_at, updatedAt=utcnow())
            if progress is not None:
                info["progressPercent"] = max(0, min(100, int(progress)))
            if message:
                info["progressMessage"] = message[:MESSAGE_LIMIT]
            self._store(action_id, info)

    def completed(
        self,
        action_id: str,
        status: str,
        *,
        started_at: dt.datetime | None = None,
        ended_at: dt.datetime | None = None,
        exit_code: int | None = None,
        message: str | None = None,
        manifests: list[dict[str, str]] | None = None,
    ) -> None:
        info: dict[str, Any] = {"completedStatus": status, "updatedAt": utcnow()}
        if manifests is not None:
            info["manifests"] = manifests
        if started_at is not None:
            info["startedAt"] = started_at
        if ended_at is not None:
            info["endedAt"] = ended_at
        if exit_code is not None:
            info["processExitCode"] = exit_code
        if message:
            info["progressMessage"] = message[:MESSAGE_LIMIT]
        if status == "SUCCEEDED":
            info["progressPercent"] = 100
        with self._lock:
            self._store(action_id, info)

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self._pending.items()}, dict(self._versions)

    def acknowledge(self, versions: dict[str, int]) -> None:
        """Drop the updates a successful call carried, unless they changed since."""
        with self._lock:
            for action_id, version in versions.items():
                if self._versions.get(action_id) == version:
                    del self._pending[action_id]
                    del self._versions[action_id]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._versions.clear()


class ScheduleConflict(Exception):
    """The farm no longer counts this worker as online (e.g. NOT_RESPONDING): restart it."""


class SchedulerLoop:
    """Polls UpdateWorkerSchedule and keeps this worker's sessions in step with the farm."""

    def __init__(
        self,
        config: WorkerConfig,
        worker_id: str,
        *,
        deadline: Any,
        logs: Any,
        stop: threading.Event,
        queue_environment: Callable[[str], dict[str, str] | None] | None = None,
        task_processes: TaskProcesses | None = None,
        queue_session: Callable[[str], Any] | None = None,
        content_cache: Any = None,
    ) -> None:
        self._wake = threading.Event()
        self.updates = ActionUpdates()
        self.context = SessionContext(
            config=config,
            worker_id=worker_id,
            deadline=deadline,
            logs=logs,
            reporter=self.updates,
            wake=self._wake.set,
            queue_environment=queue_environment,
            task_processes=task_processes,
            queue_session=queue_session,
            content_cache=content_cache,
        )
        self.config = config
        self.stop = stop
        self.sessions: dict[str, WorkerSession] = {}
        self._wait_seconds = 0
        self.polls = 0
        self.call_seconds: list[float] = []  # how long each successful call took (long polls included)
        self.context.deadline.meta.events.register(
            "before-sign.deadline.UpdateWorkerSchedule", self._add_wait_header
        )

    def wake(self) -> None:
        self._wake.set()

    def _add_wait_header(self, request: Any, **_: Any) -> None:
        if self._wait_seconds > 0:
            request.headers[WAIT_HEADER] = str(self._wait_seconds)

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> str:
        """Poll until asked to stop; returns "stop" or "desired-stop" (the farm asked it to stop).

        Raises ScheduleConflict when the farm refuses the worker's status.
        """
        while not self.stop.is_set():
            idle = not any(s.busy for s in self.sessions.values())
            answer = self._call(wait_seconds=self.config.poll_wait_seconds if idle else 0)
            if answer is None:
                break
            self._reconcile(answer)
            if answer.get("desiredWorkerStatus") == "STOPPED":
                return "desired-stop"
            interval = float(answer.get("updateIntervalSeconds", 1))
            interval = min(interval, self.config.max_update_interval_seconds)
            if any(s.busy for s in self.sessions.values()):
                interval = max(interval, MIN_BUSY_INTERVAL)
            self._wake.wait(interval)
            self._wake.clear()
        return "stop"

    def _call(self, *, wait_seconds: int) -> dict[str, Any] | None:
        """One UpdateWorkerSchedule, retried while the fault is transient; None if stopping meanwhile."""
        attempt = 0
        while True:
            updates, versions = self.snapshot_updates()
            try:
                answer = self._send(updates, wait_seconds)
            except ClientError as error:
                code = error_code(error)
                if code == "ConflictException" and error.response.get("reason") == "CONCURRENT_MODIFICATION":
                    pass
                elif code == "ConflictException" or code == "ResourceNotFoundException":
                    raise ScheduleConflict(str(error)) from error
                elif not is_transient(error):
                    raise
                else:
                    FARM_OUTAGE.failed("UpdateWorkerSchedule", error)
                attempt += 1
                if self._pause(error, attempt):
                    return None
                continue
            except CONNECTION_ERRORS as error:
                FARM_OUTAGE.failed("UpdateWorkerSchedule", error)
                attempt += 1
                if self._pause(error, attempt):
                    return None
                continue
            if answer is None:
                return None  # stopping: the held call was abandoned
            FARM_OUTAGE.recovered()
            self.polls += 1
            self.updates.acknowledge(versions)
            return answer

    def _send(self, updates: dict[str, dict[str, Any]], wait_seconds: int) -> dict[str, Any] | None:
        """The call itself. A long poll runs on a helper thread so that a stop need not wait for it."""

        def call() -> dict[str, Any]:
            started = time.monotonic()
            answer: dict[str, Any] = self.context.deadline.update_worker_schedule(
                farmId=self.config.farm_id,
                fleetId=self.config.fleet_id,
                workerId=self.context.worker_id,
                updatedSessionActions=updates,
            )
            self.call_seconds.append(time.monotonic() - started)
            return answer

        self._wait_seconds = wait_seconds
        if wait_seconds <= 0:
            return call()
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["answer"] = call()
            except BaseException as error:
                outcome["error"] = error
            finally:
                done.set()
                self._wake.set()

        threading.Thread(target=run, name="schedule-long-poll", daemon=True).start()
        while not done.is_set():
            if self.stop.is_set():
                self._wait_seconds = 0
                return None
            self._wake.wait()
            self._wake.clear()
        self._wait_seconds = 0
        if "error" in outcome:
            raise outcome["error"]
        answer: dict[str, Any] = outcome["answer"]
        return answer

    def snapshot_updates(self) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        return self.updates.snapshot()

    def _pause(self, error: BaseException, attempt: int) -> bool:
        return self.stop.wait(retry_delay(error, attempt, cap=5.0))

    # -- reconciliation --------------------------------------------------------------------------

    def _reconcile(self, answer: dict[str, Any]) -> None:
        assigned: dict[str, Any] = answer.get("assignedSessions") or {}
        for session_id, info in assigned.items():
            actions = [SessionAction(a["sessionActionId"], a["definition"]) for a in info["sessionActions"]]
            session = self.sessions.get(session_id)
            if session is None:
                if self.stop.is_set():
                    for action in actions:
                        self.updates.completed(action.action_id, "NEVER_ATTEMPTED")
                    continue
                session = WorkerSession(
                    self.context,
                    session_id=session_id,
                    queue_id=info["queueId"],
                    job_id=info["jobId"],
                    log_configuration=info.get("logConfiguration") or {},
                )
                self.sessions[session_id] = session
                session.assign(actions)
                session.start()
                log.info("session %s started for job %s", session_id, info["jobId"])
            else:
                session.assign(actions)
        for session_id, session in list(self.sessions.items()):
            if session_id not in assigned:
                session.end()
                if session.finished:
                    del self.sessions[session_id]
                    log.info("session %s ended", session_id)
        for session_id, action_ids in (answer.get("cancelSessionActions") or {}).items():
            session = self.sessions.get(session_id)
            if session is not None:
                session.cancel(set(action_ids))

    # -- stopping --------------------------------------------------------------------------------

    def interrupt_all(self, timeout: float) -> None:
        """Interrupt every session and wait (bounded) for their threads to finish."""
        for session in self.sessions.values():
            session.interrupt()
        deadline = time.monotonic() + timeout
        for session in self.sessions.values():
            session.join(max(0.0, deadline - time.monotonic()))

    def end_all(self, timeout: float) -> None:
        for session in self.sessions.values():
            session.end()
        deadline = time.monotonic() + timeout
        for session in self.sessions.values():
            session.join(max(0.0, deadline - time.monotonic()))
        self.sessions.clear()

    def final_report(self, client: Any = None) -> None:
        """Send what is left to report, once, without reconciling the answer (with `client` if given)."""
        self._wait_seconds = 0
        updates, versions = self.updates.snapshot()
        try:
            (client or self.context.deadline).update_worker_schedule(
                farmId=self.config.farm_id,
                fleetId=self.config.fleet_id,
                workerId=self.context.worker_id,
                updatedSessionActions=updates,
            )
            self.updates.acknowledge(versions)
        except Exception as error:
            log.warning("final UpdateWorkerSchedule failed: %s", error)
