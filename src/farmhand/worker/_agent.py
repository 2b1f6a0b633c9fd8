"""The worker agent's life: register, start, run the scheduler loop, drain on SIGTERM, stop."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from botocore.exceptions import ClientError

from ._config import WorkerConfig
from ._credentials import FleetCredentials, bootstrap_session, client_config
from ._host import capabilities, host_properties
from ._log_shipper import LogShipper, ShippingHandler
from ._registration import (
    create_worker,
    forget_worker_id,
    load_worker_id,
    log_destination,
    start_worker,
    update_worker,
)
from ._retry import error_code
from ._scheduler_loop import ScheduleConflict, SchedulerLoop

log = logging.getLogger("farmhand.worker")

STATUS_CALL_ATTEMPTS = 5


class WorkerAgent:
    """One worker in one fleet, from registration to STOPPED."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.stop = threading.Event()
        self.worker_id: str | None = None
        self.loop: SchedulerLoop | None = None

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

    def run(self) -> int:
        config = self.config
        config.prepare()
        bootstrap = bootstrap_session(config)
        bootstrap_deadline = bootstrap.client("deadline", config=client_config())
        host = host_properties()
        worker_id = load_worker_id(config) or create_worker(bootstrap_deadline, config, host, self.stop)
        credentials = FleetCredentials(config, bootstrap, worker_id)
        try:
            credentials.start(self.stop)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            log.info("the farm no longer knows worker %s; registering again", worker_id)
            credentials.forget()
            forget_worker_id(config)
            worker_id = create_worker(bootstrap_deadline, config, host, self.stop)
            credentials = FleetCredentials(config, bootstrap, worker_id)
            credentials.start(self.stop)
        self.worker_id = worker_id

        session = credentials.session()
        deadline = session.client(
            "deadline", config=client_config(read_timeout=config.poll_wait_seconds + 30)
        )
        logs = session.client(
            "logs", config=client_config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=30)
        )
        worker_caps = capabilities()
        answer = start_worker(deadline, config, worker_id, worker_caps, host, self.stop)
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

        self.loop = loop = SchedulerLoop(config, worker_id, deadline=deadline, logs=logs, stop=self.stop)
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
            logging.getLogger("farmhand.worker").removeHandler(handler)
            worker_log.close(timeout=10.0)
        return 0

    def _drain(self, deadline: Any, loop: SchedulerLoop) -> None:
        """STOPPING, interrupt running work, report it, STOPPED (spec §5.7, worker-initiated drain)."""
        config = self.config
        assert self.worker_id is not None
        try:
            update_worker(deadline, config, self.worker_id, "STOPPING", max_attempts=STATUS_CALL_ATTEMPTS)
        except Exception as error:
            log.warning("UpdateWorker(STOPPING) failed: %s", error)
        loop.interrupt_all(timeout=config.drain_timeout_seconds)
        loop.final_report()
        try:
            update_worker(deadline, config, self.worker_id, "STOPPED", max_attempts=STATUS_CALL_ATTEMPTS)
        except Exception as error:
            log.warning("UpdateWorker(STOPPED) failed: %s", error)
        log.info("worker %s stopped", self.worker_id)
