"""Everything one running server holds: configuration, the store, the admin identity, background work."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .._private_files import make_tree_private, open_private
from ._identity import (
    ADMIN_CREDENTIALS_FILE,
    DEFAULT_REGION,
    AdminCredentials,
    ensure_admin,
    seal_plaintext_keys,
)
from ._store_faults import is_store_fault
from .access import AccessCache
from .buckets import BucketStores, FarmStore, load_external_stores
from .cluster import Cluster, startup_lock
from .farm_secret import KEY_FILE_NAME, FarmSecret, attach_farm_secret, load_farm_secret
from .identity_store import identity_store_id
from .object_store import ObjectStore
from .operations import (
    FarmMetrics,
    MetricsAccess,
    RetentionSettings,
    purge_archived_jobs,
    purge_expired_log_events,
)
from .scheduler import DEFAULT_FAILURE_CAP, DEFAULT_IDLE_INTERVAL_SECONDS, worker_timeout
from .store import SQLITE_FILE_NAME, PoolSettings, Store, sqlite_url
from .tls import TlsFiles
from .worker_plane import IdlePolls, WorkSignal

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# Requests worked on at once, each on a thread (a waiting long poll holds none: it waits on the loop).
DEFAULT_REQUEST_THREADS = 256
DEFAULT_BODY_READ_TIMEOUT_SECONDS = 30.0
INTERRUPTED_CREATIONS_EVERY_SECONDS = 10.0
# Tasks one job may have (CreateJob refuses more); a large range would otherwise fill the disk.
DEFAULT_MAX_TASKS_PER_JOB = 1_000_000
DEFAULT_MAX_OBJECT_BYTES = 5 * 1024**3
# What the server keeps in its data directory (besides the object store, which keeps its own modes).
SERVER_FILES = (
    SQLITE_FILE_NAME,
    f"{SQLITE_FILE_NAME}-wal",
    f"{SQLITE_FILE_NAME}-shm",
    f"{SQLITE_FILE_NAME}-journal",
    ADMIN_CREDENTIALS_FILE,
    KEY_FILE_NAME,
)


@dataclass
class ServerConfig:
    data_dir: Path
    database_url: str | None = None
    database_pool: PoolSettings = field(default_factory=PoolSettings)
    host: str = "127.0.0.1"
    port: int = 0
    request_threads: int = DEFAULT_REQUEST_THREADS
    region: str = DEFAULT_REGION
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # A request whose body stops arriving for this long is answered 408 and its connection closed.
    body_read_timeout_seconds: float = DEFAULT_BODY_READ_TIMEOUT_SECONDS
    max_tasks_per_job: int = DEFAULT_MAX_TASKS_PER_JOB
    # Worker plane: seconds of silence before a worker is NOT_RESPONDING (None: max(60 s, 5 x poll
    # interval)), the per-worker failure cap per job (0: no cap), an idle worker's poll interval.
    worker_timeout_seconds: float | None = None
    worker_failure_cap: int = DEFAULT_FAILURE_CAP
    idle_update_interval_seconds: int = DEFAULT_IDLE_INTERVAL_SECONDS
    # External S3-compatible stores holding some queues' buckets (a private TOML file; see `buckets`).
    object_stores_file: Path | None = None
    # The farm's object store (S3 endpoint): the largest object or part a PUT may declare.
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    # The certificate and key the server answers TLS with (None: plain HTTP, loopback or by choice).
    tls: TlsFiles | None = None
    # Who may read /metrics, and the bearer token of MetricsAccess.TOKEN.
    metrics_access: MetricsAccess = MetricsAccess.LOCAL
    metrics_token: str | None = None
    # What the farm forgets, and when (log groups' retentionInDays, archived jobs).
    retention: RetentionSettings = field(default_factory=RetentionSettings)


class ServerRuntime:
    """The state shared by all requests of one server process."""

    def __init__(self, config: ServerConfig) -> None:
        make_tree_private(config.data_dir, SERVER_FILES)
        self.config = config
        self.region = config.region
        if config.database_url is None:
            # SQLite creates the WAL and shared-memory files with the database file's mode.
            open_private(config.data_dir / SQLITE_FILE_NAME).close()
        self.store = Store(
            config.database_url or sqlite_url(config.data_dir), migrate=False, pool=config.database_pool
        )
        self.admin_credentials_file = config.data_dir / ADMIN_CREDENTIALS_FILE
        self.admin_credentials_written = not self.admin_credentials_file.exists()
        self.farm_secret: FarmSecret = load_farm_secret(config.data_dir)
        with startup_lock(self.store):  # servers starting together on one database take turns
            self.store.migrate()
            attach_farm_secret(self.store, self.farm_secret)
            with self.store.write() as conn:
                seal_plaintext_keys(conn)
            self.admin: AdminCredentials = ensure_admin(self.store, config.data_dir)
            with self.store.write() as conn:
                self.identity_store_id = identity_store_id(conn)
        self.account_id = self.admin.account_id
        self.object_store = ObjectStore(config.data_dir / "objects", max_object_bytes=config.max_object_bytes)
        external = load_external_stores(config.object_stores_file) if config.object_stores_file else []
        self.buckets = BucketStores(farm=FarmStore(self.object_store), external=external)
        self.background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="farmhand-bg")
        self.stopping = threading.Event()
        # Bumped when work may have appeared; long-polling UpdateWorkerSchedule calls wait on it.
        self.work_signal = WorkSignal()
        # Idle workers' last empty answers, and the heartbeats of the polls they answer.
        self.idle_polls = IdlePolls(
            self.store,
            worker_timeout(config.worker_timeout_seconds, idle_interval=config.idle_update_interval_seconds),
            enabled=self.store.is_sqlite,  # one server: see IdlePolls
        )
        # Parts registered once per runtime (e.g. the worker plane's housekeeping): see `claim_start`.
        self._started: set[str] = set()
        self._starting = threading.Lock()
        self._loops: list[threading.Thread] = []
        self.cluster = Cluster(self.store, self.stopping)
        # What access checks read (users, groups, memberships, whether resources exist), between calls.
        self.access_cache = AccessCache(self.store)
        self.metrics = FarmMetrics(self.store, self.cluster.node_id)
        self._finishing_creations = threading.Lock()

    def claim_start(self, part: str) -> bool:
        """True the first time `part` asks (it then registers its loops), False after: an app built
        twice on one runtime (tests, the monitor) must not run its housekeeping twice."""
        with self._starting:
            if part in self._started:
                return False
            self._started.add(part)
            return True

    def finish_interrupted_job_creations(self) -> None:
        """Acknowledged jobs whose tasks a stopped server was still writing: write the rest, in the
        background (the server serves meanwhile; GetJob says CREATE_IN_PROGRESS until each is done).

        A farm-wide duty: the server keeping house runs it when it starts keeping house (at start,
        or when it takes over from a server that died) and every few seconds after, so a job cut
        by the death of one of several servers is finished by another without a restart. A job
        another live server is writing is left to it; a round still running is not started again.
        """
        from .jobs import finish_interrupted_creations

        if not self._finishing_creations.acquire(blocking=False):
            return

        def finish() -> None:
            try:
                if "CREATE_COMPLETE" in finish_interrupted_creations(self.store).values():
                    self.work_signal.notify()  # their tasks can be scheduled from now on
            finally:
                self._finishing_creations.release()

        try:
            self.run_in_background(finish)
        except RuntimeError:  # stopping: the pool takes no more work
            self._finishing_creations.release()

    def run_in_background(self, work: Callable[[], object]) -> None:
        """Work that must not hold up the API answer (e.g. writing the tasks of a large job)."""

        def logged() -> None:
            try:
                work()
            except Exception:
                import logging

                logging.getLogger("farmhand.server").exception("background work failed")

        self.background.submit(logged)

    def every(self, seconds: float, work: Callable[[], object], name: str) -> None:
        """A periodic housekeeping loop (e.g. reclaiming work from silent workers)."""

        def loop() -> None:
            while not self.stopping.wait(seconds):
                try:
                    work()
                except Exception as exc:
                    import logging

                    if is_store_fault(exc):  # the database is away: the next round tries again
                        logging.getLogger("farmhand.server").warning(
                            "%s: the database failed (%s)", name, str(exc).splitlines()[0]
                        )
                    else:
                        logging.getLogger("farmhand.server").exception("%s failed", name)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._loops.append(thread)

    def housekeeping(self, seconds: float, work: Callable[[], object], name: str) -> None:
        """A farm-wide duty (e.g. reclaiming work from silent workers): with several servers on one
        database, whichever of them keeps house runs it."""
        self.cluster.housekeeping(seconds, work, name)

    def keep_job_creations(self, every_seconds: float = INTERRUPTED_CREATIONS_EVERY_SECONDS) -> None:
        """Register the duty finishing job creations a stopped server left (see above)."""
        self.housekeeping(every_seconds, self.finish_interrupted_job_creations, "interrupted job creations")

    def keep_retention(self) -> None:
        """Register the retention duties (log events past their group's retention, archived jobs)."""
        settings = self.config.retention
        self.housekeeping(
            settings.every_seconds,
            lambda: purge_expired_log_events(self.store, now=dt.datetime.now(dt.UTC)),
            "log retention",
        )
        self.housekeeping(
            settings.every_seconds,
            lambda: purge_archived_jobs(self.store, settings, now=dt.datetime.now(dt.UTC)),
            "archived-job retention",
        )

    @property
    def housekeeping_since(self) -> dt.datetime | None:
        """Since when this server keeps house (None while another server does)."""
        return self.cluster.keeping_house_since

    def close(self) -> None:
        self.stopping.set()
        self.cluster.close()
        self.background.shutdown(wait=True)
        self.object_store.close()
        self.store.dispose()
