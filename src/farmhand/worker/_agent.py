"""The worker agent's life: register, start, run the scheduler loop, drain on SIGTERM, stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from botocore.exceptions import ClientError

from ..job_attachments import ContentCache
from ._config import WorkerConfig
from ._credentials import (
    QUEUE_REFRESH_BEFORE,
    FleetCredentials,
    QueueCredentials,
    bootstrap_session,
    client_config,
    profile_ca_bundle,
    service_endpoints,
)
from ._host import capabilities, host_properties
from ._log_shipper import LogShipper, ShippingHandler, deliver_outstanding, delivery_grace
from ._registration import (
    create_worker,
    forget_worker_id,
    load_worker_id,
    log_destination,
    start_worker,
    update_worker,
)
from ._retry import FARM_OUTAGE, error_code
from ._scheduler_loop import ScheduleConflict, SchedulerLoop
from ._session import utcnow
from ._task_processes import TaskProcesses

log = logging.getLogger("farmhand.worker")

STATUS_CALL_ATTEMPTS = 5
# Answers that mean "this worker id or these cached credentials are stale": join the fleet again.
REJOIN_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)


class WorkerAgent:
    """One worker in one fleet, from registration to STOPPED."""

    def __init__(self, config: WorkerConfig, *, announce: Callable[[str], None] | None = None) -> None:
        """`announce` gets one line once the worker is registered and started (for its operator)."""
        self.config = config
        self.announce = announce
        self.stop = threading.Event()
        self.worker_id: str | None = None
        self.loop: SchedulerLoop | None = None
        self._fleet_session: Any = None

    def request_stop(self, *_: Any) -> None:
        """Stop taking work and drain (SIGTERM / SIGINT)."""
        self.stop.set()
        if self.loop is not None:
            self.loop.wake()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            self.request_stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self, *, handle_signals: bool = False) -> int:
        """Run until stopped; with `handle_signals`, SIGTERM/SIGINT drain the worker."""
        config = self.config
        config.prepare()
        if handle_signals:
            self.install_signal_handlers()
        task_processes = TaskProcesses(config.data_dir)
        try:
            # Before the farm hears of this worker again: its tasks are not run twice at once.
            left = task_processes.take_over()
            if left:
                log.warning("killed %d task processes an earlier run of this worker left running", left)
            task_processes.start_guard()
            return self._run(task_processes)
        finally:
            task_processes.close()
            config.release()

    def _run(self, task_processes: TaskProcesses) -> int:
        config = self.config
        stale = config.clear_stale_sessions()
        if stale:
            log.info("removed %d session directories left by an earlier run", stale)
        bootstrap = bootstrap_session(config)
        host = host_properties()
        worker_caps = capabilities()
        try:
            worker_id, deadline, logs, answer = self._join_fleet(bootstrap, host, worker_caps)
        except Exception:
            if self.stop.is_set():  # asked to stop while the farm was away: nothing to drain
                log.info("stopped before the farm answered")
                return 0
            raise
        self.worker_id = worker_id
        group, stream = log_destination(answer.get("log"))
        worker_log = LogShipper(
            lambda: logs,
            group,
            stream,
            flush_seconds=config.log_flush_seconds,
            local_copy=config.logs_dir / "worker.log",
        )
        handler = ShippingHandler(worker_log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("farmhand.worker").addHandler(handler)
        log.info("worker %s started in fleet %s of farm %s", worker_id, config.fleet_id, config.farm_id)
        if self.announce is not None:
            self.announce(
                f"worker {worker_id} registered in fleet {config.fleet_id} of farm {config.farm_id} "
                f"at {deadline.meta.endpoint_url}; its log: {config.logs_dir / 'worker.log'}"
            )

        endpoints = service_endpoints(self._fleet_session)
        ca_bundle = profile_ca_bundle(config)
        queues: dict[str, QueueCredentials] = {}
        queues_lock = threading.Lock()

        def queue_session(queue_id: str) -> Any:
            if queue_environment(queue_id) is None:
                raise RuntimeError(f"queue {queue_id} has no role: no credentials for its job attachments")
            return queues[queue_id].session()

        def queue_environment(queue_id: str) -> dict[str, str] | None:
            with queues_lock:
                queue = queues.get(queue_id)
                if queue is None:
                    region = self._fleet_session.region_name or "us-west-2"
                    queue = QueueCredentials(
                        config, worker_id, queue_id, deadline, region, endpoints, ca_bundle
                    )
                    queues[queue_id] = queue
                fresh = queue.expiration is not None and queue.expiration - utcnow() > QUEUE_REFRESH_BEFORE
                if not (queue.available and fresh):
                    queue.fetch()
                return queue.environment() if queue.available else None

        self.loop = loop = SchedulerLoop(
            config,
            worker_id,
            deadline=deadline,
            logs=logs,
            stop=self.stop,
            queue_environment=queue_environment,
            task_processes=task_processes,
            queue_session=queue_session,
            content_cache=_content_cache(config),
        )
        try:
            while True:
                try:
                    outcome = loop.run()
                except ScheduleConflict as conflict:
                    # The farm reclaimed this worker's work (e.g. it was NOT_RESPONDING): drop the
                    # sessions and updates it no longer wants, then start again.
                    log.warning("the farm refused this worker's schedule (%s); restarting", conflict)
                    loop.end_all(timeout=config.drain_timeout_seconds)
                    loop.updates.clear()
                    start_worker(deadline, config, worker_id, worker_caps, host, self.stop)
                    continue
                break
            if outcome == "desired-stop":
                log.info("the farm asked this worker to stop")
            self._drain(deadline, loop)
        finally:
            for queue in queues.values():
                queue.close()
            grace = delivery_grace()  # short while the farm is away: SIGTERM exits promptly
            lost = deliver_outstanding(timeout=grace)
            if lost:
                log.warning("%d session log events could not be delivered before exit", lost)
            logging.getLogger("farmhand.worker").removeHandler(handler)
            if not worker_log.close(timeout=grace):
                worker_log.abandon()
        return 0

    def _join_fleet(
        self, bootstrap: Any, host: dict[str, Any], worker_caps: dict[str, Any]
    ) -> tuple[str, Any, Any, dict[str, Any]]:
        """Register (or reuse the persisted worker), get fleet credentials, UpdateWorker(STARTED).

        A persisted worker the farm no longer knows is registered afresh; cached fleet credentials
        the farm no longer accepts are dropped and fetched again with the bootstrap credentials.
        """
        config = self.config
        bootstrap_deadline = bootstrap.client("deadline", config=client_config())
        for attempt in range(3):
            worker_id = load_worker_id(config) or create_worker(bootstrap_deadline, config, host, self.stop)
            credentials = FleetCredentials(config, bootstrap, worker_id)
            try:
                credentials.start(self.stop)
                session = credentials.session()
                self._fleet_session = session
                deadline = session.client(
                    "deadline", config=client_config(read_timeout=config.poll_wait_seconds + 30)
                )
                logs = session.client(
                    "logs",
                    config=client_config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=30),
                )
                answer = start_worker(deadline, config, worker_id, worker_caps, host, self.stop)
                return worker_id, deadline, logs, answer
            except ClientError as error:
                code = error_code(error)
                if attempt == 2 or code not in REJOIN_CODES:
                    raise
                credentials.forget()
                if code == "ResourceNotFoundException":
                    log.info("the farm no longer knows worker %s; registering again", worker_id)
                    forget_worker_id(config)
                else:
                    log.info("cached fleet credentials refused (%s); fetching new ones", code)
        raise AssertionError("unreachable")

    def _drain(self, deadline: Any, loop: SchedulerLoop) -> None:
        """STOPPING, interrupt running work, report it, STOPPED (spec §5.7, worker-initiated drain).

        While the farm is away each report gets one quick try: the farm reclaims the work of a
        worker that went silent anyway, and a stop must not wait for a farm that may never return.
        """
        config = self.config
        assert self.worker_id is not None
        attempts = STATUS_CALL_ATTEMPTS
        if FARM_OUTAGE.ongoing:
            attempts = 1
            deadline = self._fleet_session.client(
                "deadline",
                config=client_config(
                    retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=5
                ),
            )
        try:
            update_worker(deadline, config, self.worker_id, "STOPPING", max_attempts=attempts)
        except Exception as error:
            log.warning("UpdateWorker(STOPPING) failed: %s", error)
        loop.interrupt_all(timeout=config.drain_timeout_seconds)
        loop.final_report(deadline)
        try:
            update_worker(deadline, config, self.worker_id, "STOPPED", max_attempts=attempts)
        except Exception as error:
            log.warning("UpdateWorker(STOPPED) failed: %s", error)
        if loop.call_seconds:
            took = sorted(loop.call_seconds)
            log.info(
                "%d schedule calls: median %.1f ms, 90th percentile %.1f ms",
                len(took),
                1000 * took[len(took) // 2],
                1000 * took[int(len(took) * 0.9)],
            )
        log.info("worker %s stopped", self.worker_id)


def _content_cache(config: WorkerConfig) -> ContentCache | None:
    """The host's content cache; on the farm's own host it takes inputs from the farm's store files."""
    if config.attachment_cache_dir is None:
        return None
    farm_objects = None
    if config.farm_objects_dir is not None:
        from ..server.object_store import StoreFiles  # the farm's own package, on the farm's host

        files = StoreFiles(config.farm_objects_dir)
        if files.available():
            farm_objects = files
        else:
            log.warning(
                "the farm's object store %s cannot be read here; inputs come through S3",
                config.farm_objects_dir,
            )
    return ContentCache(config.attachment_cache_dir, farm_objects=farm_objects)
