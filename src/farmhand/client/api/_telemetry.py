"""Usage telemetry: events queued without blocking, sent by one background thread to the farm.

Events go to `<deadline endpoint>/2023-10-12/telemetry` (unsigned POST). Opt-out comes from
`DEADLINE_CLOUD_TELEMETRY_OPT_OUT` (any case of yes/on/true/1) or `telemetry.opt_out` in the config the
caller passed; nothing here ever blocks or raises into the caller.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import logging
import os
import platform
import queue
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from configparser import ConfigParser
from typing import Any, ParamSpec, TypeVar

from ... import __version__
from ..config import get_setting, read_config, set_setting, str2bool, write_config
from ..exceptions import DeadlineOperationCanceled

__all__ = [
    "TelemetryClient",
    "get_deadline_cloud_library_telemetry_client",
    "get_telemetry_client",
    "is_telemetry_opted_out",
    "record_function_latency_telemetry_event",
    "record_success_fail_telemetry_event",
]

log = logging.getLogger(__name__)

OPT_OUT_ENV = "DEADLINE_CLOUD_TELEMETRY_OPT_OUT"
EVENT_PREFIX = "com.amazon.rum.deadline."
LIBRARY_PACKAGE_NAME = "deadline-cloud-library"
_QUEUE_SIZE = 25
_MAX_SEND_ATTEMPTS = 4
_RETRYABLE_STATUS = {429, 500}
_SEND_TIMEOUT_SECONDS = 5.0
_EXIT_JOIN_SECONDS = 2.0

P = ParamSpec("P")
R = TypeVar("R")


def is_telemetry_opted_out(config: ConfigParser | None = None) -> bool:
    """The env var wins when set (case-insensitive), else `telemetry.opt_out` of `config`."""
    env_value = os.environ.get(OPT_OUT_ENV, "")
    if env_value:
        return env_value.strip().lower() in {"yes", "on", "true", "1"}
    try:
        return str2bool(get_setting("telemetry.opt_out", config))
    except ValueError:
        return False


def _valid_uuid4(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4
    except ValueError:
        return False


def _telemetry_identifier(config: ConfigParser | None) -> str:
    """The workstation's telemetry id; a new one is written to disk (only that key) when missing."""
    identifier = get_setting("telemetry.identifier", config)
    if _valid_uuid4(identifier):
        return identifier
    identifier = str(uuid.uuid4())
    try:
        on_disk = read_config()  # a fresh copy: nothing the caller changed in memory is persisted
        if not _valid_uuid4(get_setting("telemetry.identifier", on_disk)):
            set_setting("telemetry.identifier", identifier, on_disk)
            write_config(on_disk)
        else:
            identifier = get_setting("telemetry.identifier", on_disk)
    except Exception:
        log.debug("could not persist the telemetry identifier", exc_info=True)
    if config is not None:
        set_setting("telemetry.identifier", identifier, config)
    return identifier


def _telemetry_endpoint(config: ConfigParser | None) -> str:
    from ._session import get_boto3_client

    endpoint = str(get_boto3_client("deadline", config).meta.endpoint_url).rstrip("/")
    if endpoint.startswith("https://"):
        endpoint = "https://management." + endpoint[len("https://") :]
    return endpoint + "/2023-10-12/telemetry"


class TelemetryClient:
    """Collects events into a bounded queue and sends them one at a time from a daemon thread."""

    def __init__(self, package_name: str, package_ver: str, config: ConfigParser | None = None) -> None:
        self.package_name = package_name
        self.package_ver = ".".join(package_ver.split(".")[:3])
        self.session_id = str(uuid.uuid4())
        self.telemetry_opted_out = True
        self.endpoint = ""
        self.identifier = ""
        self.event_queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=_QUEUE_SIZE)
        self._common_details: dict[str, Any] = {}
        self._system_metadata: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._initialized = False
        self._config = config
        self.initialize(config)

    @property
    def is_initialized(self) -> bool:
        return self._initialized

    def set_opt_out(self, config: ConfigParser | None = None) -> None:
        self.telemetry_opted_out = is_telemetry_opted_out(config)

    def initialize(self, config: ConfigParser | None = None) -> None:
        """Read opt-out, identity and endpoint; start the sender thread unless opted out."""
        self._config = config
        self.set_opt_out(config)
        if self.telemetry_opted_out:
            self._initialized = True
            return
        try:
            self.identifier = _telemetry_identifier(config)
            self.endpoint = _telemetry_endpoint(config)
            self._system_metadata = self._collect_system_metadata(config)
        except Exception:
            log.debug("telemetry not initialised", exc_info=True)
            return
        self._initialized = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._send_loop, name="farmhand-telemetry", daemon=True)
            self._thread.start()
            atexit.register(self._flush_at_exit)
        self.record_event("process_start", {})

    def _collect_system_metadata(self, config: ConfigParser | None) -> dict[str, Any]:
        os_name = platform.system()
        metadata: dict[str, Any] = {
            "service": self.package_name,
            "version": self.package_ver,
            "python_version": platform.python_version(),
            "osName": "macOS" if os_name == "Darwin" else os_name,
            "osVersion": platform.release(),
        }
        try:
            from ._session import get_user_and_identity_store_id

            user_id, _ = get_user_and_identity_store_id(config)
            if user_id:
                metadata["user_id"] = user_id
        except Exception:
            pass
        return metadata

    def get_account_id(self, boto3_session: Any) -> str | None:
        """The account of a session's credentials for telemetry (best effort, cached per session):
        the credentials' own account id, else a short STS GetCallerIdentity; None when neither works."""
        from ._session import get_account_id

        return get_account_id(boto3_session)

    def update_common_details(self, details: dict[str, Any]) -> None:
        """Details merged into every event sent from now on."""
        self._common_details.update(details)

    def record_event(self, event_type: str, event_details: dict[str, Any], *, from_gui: bool = False) -> None:
        """Queue one event (dropped when opted out, uninitialised or the queue is full)."""
        if self.telemetry_opted_out or not self._initialized:
            return
        details = dict(event_details)
        details.setdefault("usage_mode", "GUI" if from_gui else "CLI")
        full_type = event_type if event_type.startswith(EVENT_PREFIX) else EVENT_PREFIX + event_type
        event = {
            "type": full_type,
            "details": details,
            "timestamp": int(time.time()),
            "id": str(uuid.uuid4()),
        }
        try:
            self.event_queue.put_nowait(event)
        except queue.Full:
            log.debug("telemetry queue full; event dropped")

    def record_error(
        self, event_details: dict[str, Any], exception_type: str, from_gui: bool = False
    ) -> None:
        self.record_event("error", {**event_details, "exception_type": exception_type}, from_gui=from_gui)

    def record_error_with_trace(
        self,
        exc: BaseException,
        exception_scope: str,
        extra_details: dict[str, Any] | None = None,
        from_gui: bool = False,
    ) -> None:
        """An error with a stack trace that names only farmhand frames (file, line, function)."""
        if isinstance(exc, DeadlineOperationCanceled):
            return
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        frames = []
        trace = exc.__traceback__
        while trace is not None:
            code = trace.tb_frame.f_code
            if code.co_filename.startswith(package_root + os.sep):
                relative = os.path.relpath(code.co_filename, os.path.dirname(package_root))
                frames.append(f"{relative}:{trace.tb_lineno}:{code.co_name}")
            trace = trace.tb_next
        details = {
            **(extra_details or {}),
            "exception_type": type(exc).__name__,
            "exception_scope": exception_scope,
            "stack_trace": "\n".join(frames),
        }
        self.record_event("error", details, from_gui=from_gui)

    def record_hashing_summary(self, summary: Any, *, from_gui: bool = False) -> None:
        self.record_event("job_attachments.hashing_summary", _as_dict(summary), from_gui=from_gui)

    def record_upload_summary(self, summary: Any, *, from_gui: bool = False) -> None:
        self.record_event("job_attachments.upload_summary", _as_dict(summary), from_gui=from_gui)

    def record_vfs_mounting(self, successfully_mounted: bool) -> None:
        self.record_event("job_attachments.vfs_mount", {"successfully_mounted": successfully_mounted})

    # -- sending ------------------------------------------------------------------------------------

    def _body(self, event: dict[str, Any]) -> bytes:
        from ._agent_detection import detect_invoking_agent

        agent = detect_invoking_agent()
        invoker = {"invoked_by": "AGENT", "agent_name": agent} if agent else {"invoked_by": "HUMAN"}
        details = {**invoker, **self._common_details, **event["details"]}
        if self.package_name != LIBRARY_PACKAGE_NAME:
            details.setdefault("farmhand-client-version", __version__)
        body = {
            "BatchId": str(uuid.uuid4()),
            "RumEvents": [
                {
                    "details": json.dumps(details, default=str),
                    "id": event["id"],
                    "metadata": json.dumps(self._system_metadata),
                    "timestamp": event["timestamp"],
                    "type": event["type"],
                }
            ],
            "UserDetails": {"sessionId": self.session_id, "userId": self.identifier},
        }
        return json.dumps(body).encode()

    def _send_loop(self) -> None:
        context = ssl.create_default_context()
        while True:
            event = self.event_queue.get()
            if event is None:
                return
            if not self._send(event, context):
                return

    def _send(self, event: dict[str, Any], context: ssl.SSLContext) -> bool:
        """Send one event; False stops the thread for good (a non-retryable failure)."""
        request = urllib.request.Request(
            self.endpoint,
            data=self._body(event),
            method="POST",
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        for attempt in range(_MAX_SEND_ATTEMPTS):
            try:
                with urllib.request.urlopen(request, timeout=_SEND_TIMEOUT_SECONDS, context=context):
                    return True
            except urllib.error.HTTPError as error:
                if error.code not in _RETRYABLE_STATUS:
                    log.debug("telemetry endpoint refused an event (%s); sending stopped", error.code)
                    return False
                time.sleep(random.uniform(0, min(10.0, 0.5 * 2**attempt)))
            except Exception:
                log.debug("telemetry sending stopped", exc_info=True)
                return False
        return True

    def flush(self, timeout: float = _EXIT_JOIN_SECONDS) -> None:
        """Wait (bounded) until queued events are sent; used at exit and by tests."""
        deadline = time.monotonic() + timeout
        while not self.event_queue.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)

    def _flush_at_exit(self) -> None:
        try:
            self.event_queue.put_nowait(None)
        except queue.Full:
            return
        if self._thread is not None:
            self._thread.join(_EXIT_JOIN_SECONDS)


def _as_dict(summary: Any) -> dict[str, Any]:
    if isinstance(summary, dict):
        return dict(summary)
    if hasattr(summary, "__dict__"):
        return {key: value for key, value in vars(summary).items() if not key.startswith("_")}
    return {"summary": str(summary)}


_clients: dict[str, TelemetryClient] = {}
_clients_lock = threading.Lock()


def get_telemetry_client(
    package_name: str, package_ver: str, config: ConfigParser | None = None
) -> TelemetryClient:
    """One client per package; an uninitialised one retries initialisation with `config`."""
    with _clients_lock:
        client = _clients.get(package_name)
        if client is None:
            client = TelemetryClient(package_name, package_ver, config)
            _clients[package_name] = client
            return client
    if not client.is_initialized:
        client.initialize(config)
    return client


def get_deadline_cloud_library_telemetry_client(config: ConfigParser | None = None) -> TelemetryClient:
    return get_telemetry_client(LIBRARY_PACKAGE_NAME, __version__, config)


def _bound_arguments(function: Callable[..., Any], args: Any, kwargs: Any) -> dict[str, Any]:
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError:
        return dict(kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _record_safely(arguments: dict[str, Any], event_type: str, details: dict[str, Any]) -> None:
    """Record with the telemetry client, honouring the call's own `config` for opt-out."""
    try:
        config = arguments.get("config")
        if is_telemetry_opted_out(config if isinstance(config, ConfigParser) else None):
            return
        client = get_deadline_cloud_library_telemetry_client(
            config if isinstance(config, ConfigParser) else None
        )
        client.record_event(event_type, details, from_gui=bool(arguments.get("from_gui")))
    except Exception:
        log.debug("telemetry event not recorded", exc_info=True)


def record_success_fail_telemetry_event(
    **decorator_kwargs: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Record `<metric_name or function name>` with `is_success` (and the exception type) after each call."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        event_type = decorator_kwargs.get("metric_name") or function.__name__

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            arguments = _bound_arguments(function, args, kwargs)
            details = dict(decorator_kwargs.get("event_details") or {})
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                _record_safely(
                    arguments,
                    event_type,
                    {**details, "is_success": False, "exception_type": type(error).__name__},
                )
                raise
            _record_safely(arguments, event_type, {**details, "is_success": True})
            return result

        return wrapper

    return decorate


def record_function_latency_telemetry_event(
    **decorator_kwargs: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Record `latency` (ns) of each call with its name, success and optional extra details."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        function_call = decorator_kwargs.get("metric_name") or function.__name__
        details_provider: Callable[..., dict[str, Any]] | None = decorator_kwargs.get("details_provider")

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            arguments = _bound_arguments(function, args, kwargs)
            details: dict[str, Any] = {"function_call": function_call}
            if details_provider is not None:
                try:
                    wanted = inspect.signature(details_provider).parameters
                    details.update(details_provider(**{k: v for k, v in arguments.items() if k in wanted}))
                except Exception:
                    log.debug("telemetry details provider failed", exc_info=True)
            start = time.perf_counter_ns()
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                details.update(is_success=False, exception_type=type(error).__name__)
                details["latency"] = time.perf_counter_ns() - start
                _record_safely(arguments, "latency", details)
                raise
            details.update(is_success=True, latency=time.perf_counter_ns() - start)
            _record_safely(arguments, "latency", details)
            return result

        return wrapper

    return decorate
