"""One farm session on this worker: an OpenJD session running its actions in order on its own thread.

The farm sends the session's pending actions on every UpdateWorkerSchedule; the session runs them
one at a time with openjd-sessions (environments, embedded files, task runs, timeouts, path
mapping, cancelation with the template's method so the whole process tree goes) and reports each
action's progress and outcome. After an action fails, is canceled or interrupted, later actions
are reported NEVER_ATTEMPTED, except environment exits, which still run.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from openjd.expr import SerializedSymbolTable
from openjd.model import RevisionExtensions, SpecificationRevision
from openjd.sessions import LOG as OPENJD_LOG
from openjd.sessions import ActionState, ActionStatus, Session

from .._private_files import make_private_dir
from ..job_attachments import ContentCache, StorageSettings
from ._attachments import AttachmentSyncError, SessionAttachments
from ._config import WorkerConfig
from ._entities import ALL_EXTENSIONS, EntityError, JobEntities, parameter_values
from ._log_shipper import LogShipper, ShippingHandler, delivery_grace
from ._registration import log_destination
from ._task_processes import TaskProcesses

log = logging.getLogger("farmhand.worker")

FAILED_OUTCOMES = frozenset({"FAILED", "CANCELED", "INTERRUPTED"})
LOCAL_EXIT_SECONDS = 30.0
LOG_FLUSH_BEFORE_REPORT_SECONDS = 2.0
BOOTSTRAP_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def signed_exit_code(code: int) -> int:
    """A process exit code folded into the signed 32-bit range the API takes."""
    return ((code + 2**31) % 2**32) - 2**31


class ActionReporter(Protocol):
    def running(
        self,
        action_id: str,
        *,
        started_at: dt.datetime,
        progress: float | None = None,
        message: str | None = None,
    ) -> None: ...

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
    ) -> None: ...


@dataclass(frozen=True)
class SessionAction:
    action_id: str
    definition: dict[str, Any]

    @property
    def kind(self) -> str:
        return next(iter(self.definition))

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.definition[self.kind] or {})

    @property
    def is_env_exit(self) -> bool:
        return self.kind == "envExit"

    def entity(self, job_id: str) -> dict[str, Any] | None:
        """The job entity this action needs, as a BatchGetJobEntity identifier."""
        if self.kind in ("envEnter", "envExit"):
            return {"environmentDetails": {"jobId": job_id, "environmentId": self.body["environmentId"]}}
        if self.kind == "taskRun":
            return {"stepDetails": {"jobId": job_id, "stepId": self.body["stepId"]}}
        if self.syncs_job_inputs:
            return {"jobAttachmentDetails": {"jobId": job_id}}
        return None

    @property
    def syncs_job_inputs(self) -> bool:
        """The job-level input sync: the farm sends it only for jobs submitted with attachments."""
        return self.kind == "syncInputJobAttachments" and not self.body.get("stepId")


@dataclass
class SessionContext:
    """What every session of one worker shares."""

    config: WorkerConfig
    worker_id: str
    deadline: Any
    logs: Any
    reporter: ActionReporter
    wake: Callable[[], None]
    # Queue id -> environment naming the queue-role profile (None: the queue has no role).
    queue_environment: Callable[[str], dict[str, str] | None] | None = None
    # Records the processes actions start, so that they die with the agent (None: not recorded).
    task_processes: TaskProcesses | None = None

    def note_started(self) -> None:
        """An action's process has just started: record it."""
        if self.task_processes is not None:
            try:
                self.task_processes.note_started()
            except OSError as error:
                log.warning("could not record the task's processes: %s", error)

    # Queue id -> a boto3 session with the queue role's credentials (job attachment transfers).
    queue_session: Callable[[str], Any] | None = None
    # The host's cache of job-attachment contents, shared by its workers (None: no cache).
    content_cache: ContentCache | None = None


class WorkerSession:
    """A session assigned to this worker; driven by the scheduler loop, run on its own thread."""

    def __init__(
        self,
        context: SessionContext,
        *,
        session_id: str,
        queue_id: str,
        job_id: str,
        log_configuration: dict[str, Any],
        entities: JobEntities | None = None,
    ) -> None:
        self.context = context
        self.session_id = session_id
        self.queue_id = queue_id
        self.job_id = job_id
        self.log_configuration = log_configuration
        self._cond = threading.Condition()
        self._queue: list[SessionAction] = []
        self._done: set[str] = set()
        self._current: SessionAction | None = None
        self._failed = False
        self._ended = False
        self._interrupting = False
        self._stop_reason: str | None = None
        self._signal = threading.Event()
        self._terminal: ActionStatus | None = None
        self._started: dt.datetime | None = None
        self._openjd: Session | None = None
        # The symbol table each entered environment was entered with: its exit uses the same one.
        self._environment_symbols: dict[str, SerializedSymbolTable | None] = {}
        self._shipper: LogShipper | None = None
        self._attachments: SessionAttachments | None = None
        self.entities = entities or JobEntities(
            context.deadline,
            farm_id=context.config.farm_id,
            fleet_id=context.config.fleet_id,
            worker_id=context.worker_id,
            job_id=job_id,
        )
        self._thread = threading.Thread(target=self._run, name=f"session-{session_id}", daemon=True)

    # -- driven by the scheduler loop ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def assign(self, actions: list[SessionAction]) -> None:
        """The farm's current list of this session's pending actions replaces the local queue."""
        with self._cond:
            running = self._current.action_id if self._current else None
            fresh = [a for a in actions if a.action_id not in self._done and a.action_id != running]
            if self._interrupting:
                for action in fresh:
                    self._never_attempted(action)
                fresh = []
            self._queue = fresh
            if self._failed:
                self._abandon_queued()
            self._cond.notify_all()

    def cancel(self, action_ids: set[str]) -> None:
        """Cancel the running action if the farm named it; queued ones are the farm's to drop."""
        with self._cond:
            if self._current is not None and self._current.action_id in action_ids:
                self._request_stop("cancel")

    def end(self) -> None:
        """The farm no longer lists this session: stop what runs, run nothing more, exit locally."""
        with self._cond:
            if self._ended:
                return
            self._ended = True
            if self._current is not None:
                self._request_stop("end")
            self._cond.notify_all()

    def interrupt(self) -> None:
        """The worker is draining: the running action is INTERRUPTED, the queued ones NEVER_ATTEMPTED."""
        with self._cond:
            self._interrupting = True
            for action in self._queue:
                self._never_attempted(action)
            self._queue = []
            if self._current is not None:
                self._request_stop("interrupt")
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    @property
    def busy(self) -> bool:
        """Running an action or holding queued ones (an idle worker may long-poll for work)."""
        with self._cond:
            return self._current is not None or bool(self._queue)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- internals (call with the condition held) ------------------------------------------------

    def _request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        self._signal.set()

    def _never_attempted(self, action: SessionAction) -> None:
        if action.action_id not in self._done:
            self._done.add(action.action_id)
            self.context.reporter.completed(action.action_id, "NEVER_ATTEMPTED")

    def _abandon_queued(self) -> None:
        """After a failure only environment exits still run; the rest is never attempted."""
        kept = []
        for action in self._queue:
            if action.is_env_exit:
                kept.append(action)
            else:
                self._never_attempted(action)
        self._queue = kept

    # -- the session thread ----------------------------------------------------------------------

    def _run(self) -> None:
        config = self.context.config
        shipper: LogShipper | None = None
        handler: ShippingHandler | None = None
        setup_error: str | None = None
        try:
            group, stream = log_destination(self.log_configuration)
            local = config.logs_dir / self.queue_id / f"{self.session_id}.log"
            make_private_dir(local.parent)
            shipper = LogShipper(
                lambda: self.context.logs,
                group,
                stream,
                flush_seconds=config.log_flush_seconds,
                local_copy=local,
            )
            shipper.write(
                f"farmhand worker {self.context.worker_id} on {socket.gethostname()}: "
                f"session {self.session_id} of job {self.job_id} in queue {self.queue_id}"
            )
            self._shipper = shipper
            handler = ShippingHandler(shipper, session_id=self.session_id)
            handler.setFormatter(logging.Formatter("%(message)s"))
            OPENJD_LOG.addHandler(handler)
        except Exception as error:
            setup_error = f"session log could not be set up: {error}"
        if setup_error is None:
            try:
                self._openjd = self._open_session()
            except Exception as error:
                setup_error = f"session could not start: {error}"
                log.warning("session %s: %s", self.session_id, setup_error)
                if shipper is not None:
                    shipper.write(setup_error)
        try:
            self._run_actions(setup_error)
        finally:
            self._wind_down()
            if handler is not None:
                OPENJD_LOG.removeHandler(handler)
            if shipper is not None:
                shipper.close(timeout=delivery_grace())
            self.context.wake()

    def _open_session(self) -> Session:
        context = self.context
        config = context.config
        job = self.entities.job()
        with self._cond:
            wanted = [e for e in (a.entity(self.job_id) for a in self._queue) if e is not None]
        try:
            self.entities.prefetch(wanted)
        except Exception as error:  # per-action fetches retry and report what is missing
            log.warning("session %s: prefetching entities failed: %s", self.session_id, error)
        # The agent's bootstrap keys never reach jobs (None unsets a variable for the subprocess).
        env: dict[str, Any] = {name: None for name in BOOTSTRAP_VARIABLES}
        env |= {
            "DEADLINE_SESSION_ID": self.session_id,
            "DEADLINE_FARM_ID": config.farm_id,
            "DEADLINE_QUEUE_ID": self.queue_id,
            "DEADLINE_JOB_ID": self.job_id,
            "DEADLINE_FLEET_ID": config.fleet_id,
            "DEADLINE_WORKER_ID": context.worker_id,
        }
        if context.task_processes is not None:
            env |= context.task_processes.environment()
        if job.attachments_bucket:
            env["DEADLINE_JA_S3_BUCKET"] = job.attachments_bucket
            env["DEADLINE_JA_ROOT_PREFIX"] = job.attachments_root_prefix or ""
        if job.queue_role_arn and context.queue_environment is not None:
            queue_env = None
            try:
                queue_env = context.queue_environment(self.queue_id)
            except Exception as error:
                log.warning("session %s: no queue credentials: %s", self.session_id, error)
            if queue_env:
                env.update(queue_env)
            elif job.attachments_bucket:
                raise EntityError(
                    "Job Attachments are configured on the Queue, "
                    "but no queue-role credentials could be obtained"
                )
        rules = list(job.path_mapping_rules)
        with self._cond:
            syncs_inputs = any(action.syncs_job_inputs for action in self._queue)
        # As with the AWS agent, only a session that opens with the job-level input sync asks for the
        # job's attachments: a job submitted without any has none to ask for, even on a queue with a bucket.
        if job.attachments_bucket and syncs_inputs:
            self._attachments = self._prepare_attachments(job.attachments_bucket, job.attachments_root_prefix)
            if self._attachments is not None:
                rules += self._attachments.rules
        return Session(
            session_id=self.session_id,
            job_parameter_values=job.parameters,
            path_mapping_rules=rules or None,
            retain_working_dir=config.retain_session_dirs,
            callback=self._on_status,
            os_env_vars=env,
            session_root_directory=config.sessions_dir,
            revision_extensions=RevisionExtensions(
                spec_rev=SpecificationRevision.v2023_09, supported_extensions=list(ALL_EXTENSIONS)
            ),
        )

    def _prepare_attachments(self, bucket: str, root_prefix: str | None) -> SessionAttachments | None:
        """Where the job's attachment roots go on this worker (None: the job has none)."""
        attachments = self.entities.attachments()
        if not attachments or not attachments.get("manifests"):
            return None
        factory = self.context.queue_session
        if factory is None:
            raise EntityError("this worker cannot move job attachments (no queue credentials)")
        queue_id = self.queue_id
        try:
            return SessionAttachments(
                attachments=attachments,
                settings=StorageSettings(bucket, root_prefix or ""),
                service_rules=list(self.entities.job().raw.get("pathMappingRules") or []),
                directory=self.context.config.sessions_dir / f"{self.session_id}-attachments",
                farm_id=self.context.config.farm_id,
                queue_id=queue_id,
                job_id=self.job_id,
                session_factory=lambda: factory(queue_id),
                cache=self.context.content_cache,
                write_log=self._write_log,
            )
        except AttachmentSyncError as error:
            raise EntityError(str(error)) from error

    def _write_log(self, line: str) -> None:
        if self._shipper is not None:
            self._shipper.write(line)
        log.debug("session %s: %s", self.session_id, line)

    def _stopping(self) -> bool:
        with self._cond:
            return self._stop_reason is not None

    def _run_actions(self, setup_error: str | None) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._ended and not self._interrupting:
                    self._cond.wait()
                if self._ended or self._interrupting:
                    # Queued environment exits are neither run nor reported; the rest never ran.
                    for action in self._queue:
                        if not action.is_env_exit:
                            self._never_attempted(action)
                    self._queue = []
                    return
                action = self._queue.pop(0)
                if self._failed and not action.is_env_exit:
                    self._never_attempted(action)
                    continue
                self._current = action
                self._stop_reason = None
            if setup_error is not None or self._openjd is None:
                if self._failed:
                    status = "NEVER_ATTEMPTED"
                    self.context.reporter.completed(action.action_id, status)
                else:
                    now = utcnow()
                    status = "FAILED"
                    self.context.reporter.completed(
                        action.action_id, status, started_at=now, ended_at=now, message=setup_error
                    )
            else:
                status = self._execute(action)
            with self._cond:
                self._current = None
                self._started = None
                self._done.add(action.action_id)
                if status in FAILED_OUTCOMES:
                    self._failed = True
                    self._abandon_queued()
                idle = not self._queue
            # Report at once when the session has run dry (it needs more work) or something went
            # wrong (the farm must react); completions inside a batch go with the next regular poll.
            if idle or status != "SUCCEEDED":
                if idle:
                    self._flush_log()  # a job read as finished has its output in the log
                self.context.wake()

    def _execute(self, action: SessionAction) -> str:
        """Run one action to its end and report it; returns the completed status."""
        assert self._openjd is not None
        reporter = self.context.reporter
        started = utcnow()
        self._signal.clear()
        self._terminal = None
        with self._cond:
            self._started = started
        reporter.running(action.action_id, started_at=started)
        action_env = {"DEADLINE_SESSIONACTION_ID": action.action_id}
        try:
            if action.kind == "syncInputJobAttachments":
                return self._sync_attachments(action, started)
            if action.kind == "envEnter":
                environment_id = action.body["environmentId"]
                environment = self.entities.environment(environment_id)
                symbols = self.entities.environment_symbols(environment_id)
                self._environment_symbols[environment_id] = symbols
                self._openjd.enter_environment(
                    environment=environment,
                    identifier=environment_id,
                    os_env_vars=action_env,
                    resolved_symtab=symbols,
                )
            elif action.kind == "envExit":
                environment_id = action.body["environmentId"]
                self._openjd.exit_environment(
                    identifier=environment_id,
                    os_env_vars=action_env,
                    resolved_symtab=self._environment_symbols.get(environment_id),
                )
            elif action.kind == "taskRun":
                step_id = action.body["stepId"]
                step = self.entities.step(step_id)
                if step.script is None:
                    raise EntityError(f"step {step_id} has no script")
                action_env["DEADLINE_STEP_ID"] = step_id
                if action.body.get("taskId"):
                    action_env["DEADLINE_TASK_ID"] = action.body["taskId"]
                self._openjd.run_task(
                    step_script=step.script,
                    task_parameter_values=parameter_values(action.body.get("parameters")),
                    os_env_vars=action_env,
                    step_name=step.name,
                    resolved_symtab=self.entities.step_symbols(step_id),
                )
            else:
                raise EntityError(f"unknown session action {action.kind!r}")
            self.context.note_started()
        except Exception as error:
            message = f"{type(error).__name__}: {error}" if not isinstance(error, EntityError) else str(error)
            log.warning("session %s: action %s could not run: %s", self.session_id, action.action_id, message)
            reporter.completed(
                action.action_id, "FAILED", started_at=started, ended_at=utcnow(), message=message[:4096]
            )
            return "FAILED"
        return self._await(action, started)

    def _await(self, action: SessionAction, started: dt.datetime) -> str:
        assert self._openjd is not None
        cancel_sent = False
        while True:
            # State first, then wait: a stop requested while the action was starting is not lost.
            if self._terminal is not None:
                break
            with self._cond:
                reason = self._stop_reason
            if reason is None or cancel_sent:
                self._signal.wait()
                self._signal.clear()
                continue
            cancel_sent = True
            limit = None
            if reason == "interrupt":
                limit = dt.timedelta(seconds=self.context.config.drain_timeout_seconds)
            try:
                self._openjd.cancel_action(time_limit=limit)
            except Exception as error:
                log.warning("session %s: cancel failed: %s", self.session_id, error)
        terminal = self._terminal
        with self._cond:
            reason = self._stop_reason
        status, message = _outcome(terminal, reason)
        exit_code = signed_exit_code(terminal.exit_code) if terminal.exit_code is not None else None
        manifests: list[dict[str, str]] | None = None
        if status == "SUCCEEDED" and action.kind == "taskRun" and self._attachments is not None:
            # The AWS agent's order: outputs first, then the task run's completion naming them.
            try:
                manifests = self._attachments.upload_outputs(
                    step_id=action.body["stepId"],
                    task_id=action.body.get("taskId"),
                    session_action_id=action.action_id,
                    started_at=started,
                    stopped=self._stopping,
                )
            except AttachmentSyncError as error:
                status, message = "FAILED", f"Uploading the outputs failed: {error}"
                self._write_log(message)
        if status != "SUCCEEDED":
            self._flush_log()  # whoever reads why it failed finds the output already in the log
        self.context.reporter.completed(
            action.action_id,
            status,
            started_at=started,
            ended_at=utcnow(),
            exit_code=exit_code,
            message=message[:4096] if message else None,
            manifests=manifests,
        )
        return status

    def _flush_log(self) -> None:
        """Send the session log so far before a result the user will want to read it for (bounded)."""
        if self._shipper is not None:
            self._shipper.flush(timeout=min(LOG_FLUSH_BEFORE_REPORT_SECONDS, delivery_grace()))

    def _sync_attachments(self, action: SessionAction, started: dt.datetime) -> str:
        """The job's inputs (or, with a stepId, its dependencies' outputs) into the session."""
        attachments = self._attachments
        if attachments is not None:
            step_id = action.body.get("stepId")
            try:
                if step_id:
                    attachments.sync_step_dependencies(
                        self.entities.step_dependencies(step_id), self._stopping
                    )
                else:
                    attachments.sync_inputs(self._stopping)
            except AttachmentSyncError as error:
                message = str(error)
                self._write_log(f"Syncing job attachments failed: {message}")
                self._flush_log()
                status = "CANCELED" if self._stopping() and "canceled" in message else "FAILED"
                self.context.reporter.completed(
                    action.action_id, status, started_at=started, ended_at=utcnow(), message=message[:4096]
                )
                return status
        self.context.reporter.completed(action.action_id, "SUCCEEDED", started_at=started, ended_at=utcnow())
        return "SUCCEEDED"

    def _on_status(self, session_id: str, status: ActionStatus) -> None:
        """openjd's callback: progress while running, then the action's end."""
        with self._cond:
            current, started = self._current, self._started
        if status.state == ActionState.RUNNING:
            if current is not None and started is not None:
                self.context.reporter.running(
                    current.action_id,
                    started_at=started,
                    progress=status.progress,
                    message=status.status_message,
                )
            return
        self._terminal = status
        self._signal.set()

    def _wind_down(self) -> None:
        """Exit environments still entered (without reporting them) and remove the session directory."""
        if self._attachments is not None:
            self._attachments.close()
            if not self.context.config.retain_session_dirs:
                self._attachments.remove_directory()
        session = self._openjd
        if session is None:
            return
        for identifier in reversed(session.environments_entered):
            self._signal.clear()
            self._terminal = None
            try:
                session.exit_environment(
                    identifier=identifier, resolved_symtab=self._environment_symbols.get(identifier)
                )
                self.context.note_started()
                if not self._signal.wait(LOCAL_EXIT_SECONDS):
                    session.cancel_action()
                    self._signal.wait(5.0)
            except Exception as error:
                log.warning("session %s: exiting %s failed: %s", self.session_id, identifier, error)
        try:
            session.cleanup()
        except Exception as error:
            log.warning("session %s: cleanup failed: %s", self.session_id, error)


def _outcome(status: ActionStatus, stop_reason: str | None) -> tuple[str, str | None]:
    """The completed status and message for an openjd action end."""
    message = status.fail_message or status.status_message
    if status.state == ActionState.SUCCESS:
        return "SUCCEEDED", status.status_message
    if status.state == ActionState.TIMEOUT:
        return "FAILED", f"TIMEOUT: {message}" if message else "TIMEOUT"
    if status.state == ActionState.CANCELED or stop_reason is not None:
        if stop_reason == "interrupt":
            return "INTERRUPTED", "the worker is stopping"
        if stop_reason == "end":
            return "FAILED", "the farm ended the session while the action ran"
        return "CANCELED", message
    return "FAILED", message
