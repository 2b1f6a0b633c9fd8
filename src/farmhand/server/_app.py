"""The ASGI application: one listener for the Deadline Cloud API, CloudWatch Logs, STS and telemetry.

A request is recognised by its shape (path prefix, `X-Amz-Target`, form `Action`), authenticated by
SigV4 against keys in the store, parsed and validated by the service model, handled inside one
transaction (with its idempotency record), and answered in one buffer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from sqlalchemy import and_, insert, select
from sqlalchemy.exc import DataError

from .._models import IDENTITY_SERVICE, IDENTITY_TARGET_PREFIX, SCHEDULING_SERVICE, SCHEDULING_TARGET_PREFIX
from ._identity import Principal, SigningKeyCache, prune_expired_keys
from ._runtime import ServerRuntime
from ._store_faults import is_store_fault, store_unavailable
from ._telemetry import TelemetryIntake, TelemetryRefused
from .access import (
    ALLOWED,
    DENIED,
    Audit,
    Caller,
    CallerKind,
    Rule,
    authorize,
    authorize_object,
    caller_of,
    farm_of,
    object_allowed,
    record,
    resource_of,
    rule_for,
)
from .attachment_batches import BatchEndpoint, is_batch_request
from .cluster import exclusive_in_transaction
from .handlers import Call, CallHints, Registered, load_handlers
from .monitor import ChangeFeed, MonitorPages, MonitorSessions, is_monitor_call
from .object_store import S3Endpoint, is_s3_request
from .operations import HEALTH_PATHS, METRICS_CONTENT_TYPE, METRICS_PATH, health, metrics_allowed
from .protocol import (
    DEADLINE_API_VERSION,
    AccessDeniedError,
    ConflictError,
    InternalServerError,
    NotImplementedOperationError,
    PayloadCheck,
    PayloadTooLargeError,
    ServiceError,
    SignedRequest,
    SigningKey,
    UnknownOperationError,
    ValidationError,
    credential_scope_service,
    deadline_routes,
    error_status,
    parse_json_request,
    parse_query_request,
    parse_request,
    payload_checked_by_endpoint,
    render_error,
    render_json_error,
    render_json_response,
    render_query_error,
    render_query_response,
    render_response,
    require_signed_payload,
    resolve_target,
    service_model,
    success_status,
    verify,
)
from .sign_in import PAGE_PATHS, PageAnswer, PageRequest, SignInPage, SignInRequest, SignInService
from .store import idempotency_records
from .worker_plane import WORK_ONLY_OPERATIONS, held_for, start_worker_plane, work_signal

log = logging.getLogger("farmhand.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TELEMETRY_PATH = f"/{DEADLINE_API_VERSION}/telemetry"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str = "application/json"


@dataclass
class _LongPoll:
    """A long poll between its attempts: each attempt runs in a thread, the waits between them on
    the event loop (so a waiting worker holds no thread)."""

    deadline: float | None = None  # monotonic time the wait ends, set by the first attempt
    generation: int = 0  # the work signal's generation the last attempt looked at
    retry: bool = False  # an attempt after a wake-up: the worker's updates were applied already
    group: str | None = None  # whose waiters it queues with: the worker's fleet
    handed_work: bool = False  # the last attempt's answer carries work (it did not wait)


class _WaitForWork(Exception):
    """Raised out of an attempt that found no work and should wait: carries the answer it would give."""

    def __init__(self, output: Any) -> None:
        super().__init__("waiting for work")
        self.output = output
        self.answer: Answer | None = None


class FarmApp:
    """The farm server as an ASGI callable."""

    def __init__(self, runtime: ServerRuntime) -> None:
        self.runtime = runtime
        self.handlers = load_handlers()
        self.routes = deadline_routes()
        self.deadline = service_model("deadline")
        self.logs = service_model("logs")
        self.sts = service_model("sts")
        self.identity = service_model(IDENTITY_SERVICE)
        self.sign_in = SignInService(runtime.store, runtime.identity_store_id)
        self.sign_in_page = SignInPage(self.sign_in)
        # JSON-RPC services by their X-Amz-Target prefix (anything else is CloudWatch Logs).
        self.json_services = {
            IDENTITY_TARGET_PREFIX: (IDENTITY_SERVICE, self.identity),
            SCHEDULING_TARGET_PREFIX: (SCHEDULING_SERVICE, service_model(SCHEDULING_SERVICE)),
        }
        self.signing_keys = SigningKeyCache(runtime.store)
        self._polls = threading.local()  # the long poll a worker thread's attempt belongs to
        self.s3 = S3Endpoint(
            runtime.object_store, self._authenticate_s3, self._authorize_object, runtime.account_id
        )
        self.batches = BatchEndpoint(
            runtime.object_store,
            self._authenticate_s3,
            self._authorize_object,
            self._object_allowed,
            runtime.account_id,
        )
        runtime.every(3600, runtime.object_store.housekeep, "object-store-housekeeping")
        self.telemetry = TelemetryIntake(runtime.store)
        runtime.every(600, self.telemetry.prune, "telemetry-retention")
        runtime.every(600, lambda: prune_expired_keys(runtime.store), "expired-key-pruning")
        signal = work_signal(runtime)
        signal.add_publisher(runtime.cluster.publish_work)

        def heard_nothing_for_a_while() -> None:
            self.signing_keys.clear()
            signal.wake()

        runtime.cluster.connect(
            on_work=signal.wake,
            on_key_changed=self.signing_keys.evict,
            on_reconnect=heard_nothing_for_a_while,
        )
        start_worker_plane(runtime)
        # The web monitor: its pages, and live updates whenever the farm's work or logs change.
        self.changes = ChangeFeed()
        work_signal(runtime).listeners.append(lambda: self.changes.changed("deadline"))
        self.monitor_sessions = MonitorSessions(runtime.store)
        self.monitor = MonitorPages(self.monitor_sessions, self.changes)
        runtime.keep_job_creations()
        runtime.keep_retention()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.runtime.config.request_threads)
            return
        if scope["type"] != "http":
            return
        request_id = str(uuid.uuid4())
        if scope["path"] in HEALTH_PATHS and scope["method"] in ("GET", "HEAD"):
            found = await anyio.to_thread.run_sync(health, self.runtime, scope["path"])
            await _send(send, Answer(found.status, {"Cache-Control": "no-store"}, found.body), request_id)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] == METRICS_PATH and scope["method"] in ("GET", "HEAD"):
            await _send(send, await self._metrics(scope, headers), request_id)
            return
        if is_s3_request(headers, scope.get("query_string", b"")):
            if is_batch_request(scope.get("query_string", b"")):
                await self._object_store(self.batches, scope, receive, send, headers, request_id)
            else:
                await self._object_store(self.s3, scope, receive, send, headers, request_id)
            return
        if "authorization" not in headers and self.monitor.serves(scope["method"], scope["path"]):
            await self.monitor(scope, receive, send, headers)
            return
        config = self.runtime.config
        is_telemetry = scope["path"].startswith(TELEMETRY_PATH) and scope["method"] == "POST"
        limit = self.telemetry.limits.max_event_bytes if is_telemetry else config.max_body_bytes
        try:
            body = await _read_body(receive, headers, limit, config.body_read_timeout_seconds)
        except (PayloadTooLargeError, RequestTimeoutError) as error:
            answer = Answer(
                error.status,
                {"x-amzn-ErrorType": error.code, "Connection": "close"},
                json.dumps({"message": error.message}).encode(),
            )
            await _send(send, answer, request_id)
            return
        if is_telemetry:
            client = scope.get("client")
            source = str(client[0]) if client else "unknown"
            answer = await anyio.to_thread.run_sync(self._telemetry, source, body)
            await _send(send, answer, request_id)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        raw_path_text = raw_path.decode("latin-1").split("?", 1)[0]
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        address = str((scope.get("client") or ("",))[0])
        if raw_path_text in PAGE_PATHS:
            page_request = PageRequest(
                scope["method"],
                raw_path_text,
                dict(query),
                headers,
                body,
                address,
                scope.get("scheme") == "https",
                dt.datetime.now(dt.UTC),
            )
            page = await anyio.to_thread.run_sync(self.sign_in_page.handle, page_request)
            await _send_page(send, page, request_id)
            return
        request = SignedRequest(scope["method"], raw_path_text, query, headers, body)
        origin = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        answer = await self._dispatch_polling(request, request_id, address, origin)
        await _send(send, answer, request_id)

    async def _dispatch_polling(
        self, request: SignedRequest, request_id: str, address: str, origin: str
    ) -> Answer:
        """`dispatch` in a worker thread; a long poll that finds no work waits on the event loop for
        the work signal, then runs again, until work comes or its wait is over."""
        poll = _LongPoll()
        signal = work_signal(self.runtime)
        while True:
            try:
                answer = await anyio.to_thread.run_sync(
                    self._attempt, poll, request, request_id, address, origin
                )
            except _WaitForWork as waiting:
                # Only the answer is kept: the exception's traceback holds the attempt's frames
                # (and all they refer to), which thousands of waiting polls would keep alive.
                empty = waiting.answer
            else:
                if poll.retry and poll.handed_work:
                    signal.pass_on(poll.group)  # woken and served: the next waiter may be served too
                return answer
            assert empty is not None and poll.deadline is not None
            remaining = poll.deadline - time.monotonic()
            if (
                remaining <= 0
                or self.runtime.stopping.is_set()
                or not await signal.wait_past_async(poll.generation, remaining, poll.group)
            ):
                return empty
            poll.retry = True

    def _attempt(
        self, poll: _LongPoll, request: SignedRequest, request_id: str, address: str, origin: str
    ) -> Answer:
        self._polls.current = poll
        try:
            return self.dispatch(request, request_id, address, origin)
        finally:
            self._polls.current = None

    async def _metrics(self, scope: Scope, headers: dict[str, str]) -> Answer:
        config = self.runtime.config
        client = scope.get("client")
        if not metrics_allowed(
            config.metrics_access, config.metrics_token, client[0] if client else None, headers
        ):
            return Answer(403, {}, b"metrics are not available to this client\n", "text/plain")
        try:
            body = await anyio.to_thread.run_sync(self.runtime.metrics.exposition)
        except Exception as exc:
            if not is_store_fault(exc):
                raise
            return Answer(503, {"Retry-After": "2"}, b"the farm's database is unavailable\n", "text/plain")
        return Answer(200, {"Cache-Control": "no-store"}, body, METRICS_CONTENT_TYPE)

    async def _object_store(
        self,
        endpoint: Callable[[Scope, Receive, Send, dict[str, str], str], Awaitable[None]],
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        request_id: str,
    ) -> None:
        """The object store's requests, counted (requests by method and status, bytes each way)."""
        seen = {"in": 0, "out": 0, "status": 500}

        async def counted_receive() -> Message:
            message = await receive()
            seen["in"] += len(message.get("body", b""))
            return message

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            elif message["type"] == "http.response.body":
                seen["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await endpoint(scope, counted_receive, counted_send, headers, request_id)
        finally:
            self.runtime.metrics.observe_object_request(
                scope["method"], seen["status"], seen["in"], seen["out"]
            )

    # -- dispatch by protocol --------------------------------------------------------------------

    def dispatch(
        self, request: SignedRequest, request_id: str, address: str = "", origin: str = ""
    ) -> Answer:
        """Answer one request; `address` is the client's (sign-in throttling), `origin` the farm's URL
        as the client reached it (the sign-in page's address in device authorizations)."""
        target = request.headers.get("x-amz-target")
        if target:
            return self._json_rpc(request, request_id, target, address, origin)
        if request.raw_path.startswith(f"/{DEADLINE_API_VERSION}/"):
            return self._rest_json(request, request_id)
        service = credential_scope_service(request.headers.get("authorization"))
        if service == "sts" or (request.raw_path == "/" and b"Action=" in request.body):
            return self._query(request, request_id)
        error = UnknownOperationError(f"No operation serves {request.method} {request.raw_path}")
        headers, body = render_error(error)
        return Answer(error.status, headers, body)

    def _rest_json(self, request: SignedRequest, request_id: str) -> Answer:
        seen = _Observation("deadline")
        try:
            resolved = self.routes.resolve(request.method, request.raw_path)
            if resolved is None:
                raise UnknownOperationError(
                    f"No Deadline Cloud operation serves {request.method} {request.raw_path}"
                )
            route, labels = resolved
            seen.operation = route.name
            principal, region = self._authenticate(request)
            params = parse_request(route.operation, labels, request.query, request.headers, request.body)
            output = self._invoke(
                "deadline",
                route.name,
                params,
                principal,
                region,
                request_id,
                lambda out: render_response(route.operation, out),
                dict(request.headers),
            )
            if isinstance(output, _Rendered):
                extra_headers, body = output.headers, output.body
            else:
                extra_headers, body = render_response(route.operation, output)
            return Answer(success_status(route.operation), extra_headers, body)
        except _WaitForWork as waiting:
            # The answer if the wait ends with no work; the call is observed once, by its last attempt.
            waiting.answer = Answer(
                success_status(route.operation), *render_response(route.operation, waiting.output)
            )
            seen.waiting = True
            raise
        except Exception as exc:
            error = seen.failed(_service_error(exc, "deadline"))
            headers, body = render_error(error)
            return Answer(error_status(self.deadline, error), headers, body)
        finally:
            if not seen.waiting:
                self._observe(seen)

    def _json_rpc(
        self, request: SignedRequest, request_id: str, target: str, address: str, origin: str
    ) -> Answer:
        service, model = self.json_services.get(target.split(".", 1)[0], ("logs", self.logs))
        seen = _Observation(service)
        try:
            operation = resolve_target(model, target)
            seen.operation = operation.name
            if operation.auth_type == "none":
                # Sign-in: the password, refresh token or device code in the body is the proof.
                params = parse_json_request(operation, request.body)
                unsigned = SignInRequest(address, origin, dt.datetime.now(dt.UTC))
                result = self.sign_in.handle(operation.name, params, unsigned)
                return Answer(200, {}, render_json_response(operation, result), "application/x-amz-json-1.1")
            principal, region = self._authenticate(request)
            params = parse_json_request(operation, request.body)
            seen.params = params
            output = self._invoke(
                service,
                operation.name,
                params,
                principal,
                region,
                request_id,
                lambda out: ({}, render_json_response(operation, out)),
            )
            body = output.body if isinstance(output, _Rendered) else render_json_response(operation, output)
            return Answer(200, {}, body, "application/x-amz-json-1.1")
        except Exception as exc:
            status, headers, body = render_json_error(model, seen.failed(_service_error(exc, service)))
            return Answer(status, headers, body, "application/x-amz-json-1.1")
        finally:
            self._observe(seen)

    def _query(self, request: SignedRequest, request_id: str) -> Answer:
        seen = _Observation("sts")
        try:
            operation, params = parse_query_request(self.sts, request.query, request.body)
            seen.operation = operation.name
            principal, region = self._authenticate(request)
            output = self._invoke("sts", operation.name, params, principal, region, request_id, None)
            assert not isinstance(output, _Rendered)
            return Answer(
                200, {}, render_query_response(self.sts, operation, output or {}, request_id), "text/xml"
            )
        except Exception as exc:
            status, headers, body = render_query_error(seen.failed(_service_error(exc, "sts")), request_id)
            return Answer(status, headers, body, "text/xml")
        finally:
            self._observe(seen)

    def _observe(self, seen: _Observation) -> None:
        self.runtime.metrics.observe_call(
            seen.service, seen.operation, time.perf_counter() - seen.started, seen.error_code, seen.params
        )

    def _telemetry(self, source: str, body: bytes) -> Answer:
        """Telemetry is unsigned: stored within bounds (size, rate, retention), never failing the
        sender with a 5xx (a store fault is logged and the event dropped)."""
        try:
            self.telemetry.accept(source, body)
        except TelemetryRefused as refused:
            headers = {"x-amzn-ErrorType": refused.code}
            if refused.status == 429:
                headers["Retry-After"] = "1"
            return Answer(refused.status, headers, json.dumps({"message": refused.message}).encode())
        except Exception:
            log.exception("telemetry event not stored")
        return Answer(200, {}, b"{}")

    # -- shared steps ----------------------------------------------------------------------------

    def _authenticate_s3(self, request: SignedRequest) -> tuple[Principal, str]:
        """S3 has its own body rules (UNSIGNED-PAYLOAD, streaming): its endpoint checks the body."""
        return self._authenticate(request, payload_checked_by_endpoint)

    def _authenticate(
        self, request: SignedRequest, payload_check: PayloadCheck = require_signed_payload
    ) -> tuple[Principal, str]:
        if is_monitor_call(request.headers):
            # A monitor page: the signed-in user's own principal, then the same path as any call.
            principal = self.monitor_sessions.api_principal(request.headers, dt.datetime.now(dt.UTC))
            return principal, self.runtime.region
        found: dict[str, Principal] = {}

        def lookup(access_key_id: str) -> SigningKey | None:
            result = self.signing_keys.lookup(access_key_id)
            if result is None:
                return None
            key, principal = result
            found["principal"] = principal
            return key

        caller = verify(request, lookup, payload_check=payload_check)
        return found["principal"], caller.region

    def _authorize_object(
        self, principal: Principal, action: str, bucket: str, key: str, request_id: str
    ) -> None:
        """The object store's requests go through the access table too (its `s3` lines)."""
        caller = caller_of(principal.principal_id, principal.arn, principal.kind, principal.scope)
        if caller.kind is CallerKind.ADMIN:
            return
        reads = self.runtime.access_cache.reads()
        try:
            with self.runtime.store.read() as conn:
                authorize_object(conn, caller, action, bucket, key, reads)
        except AccessDeniedError:
            self._record_denial(caller, "s3", action, {"farmId": caller.farm_id}, request_id)
            raise

    @staticmethod
    def _object_allowed(principal: Principal, action: str, bucket: str, key: str) -> bool:
        """The access table's `s3` answer for one key, without the store (batch calls check the
        rest of a request's keys with it once `_authorize_object` passed for the first)."""
        caller = caller_of(principal.principal_id, principal.arn, principal.kind, principal.scope)
        return object_allowed(caller, rule_for("s3", action), action, bucket, key)

    def _invoke(
        self,
        service: str,
        name: str,
        params: dict[str, Any],
        principal: Principal,
        region: str,
        request_id: str,
        render: Callable[[dict[str, Any] | None], tuple[dict[str, str], bytes]] | None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Run the operation; a handler hinting `wait_for_work_seconds` is re-run (with no new
        updates) when work may have appeared, until that wait is over (long poll, no open transaction)."""
        signal = work_signal(self.runtime)
        deadline: float | None = None
        # Through `_dispatch_polling` a long poll waits on the event loop between attempts.
        poll: _LongPoll | None = getattr(self._polls, "current", None) if service == "deadline" else None
        if poll is not None and poll.retry:
            params = {**params, "updatedSessionActions": {}}
        idle_polls = self.runtime.idle_polls
        schedule = service == "deadline" and name == "UpdateWorkerSchedule"
        # Not after a wake-up: a woken poll looks (`pass_on` wakes one without a new generation).
        may_skip = (
            schedule and poll is not None and not poll.retry and not params.get("updatedSessionActions")
        )
        key = (str(params.get("farmId")), str(params.get("fleetId")), str(params.get("workerId")))
        if service == "deadline" and not schedule and "workerId" in params:
            idle_polls.forget(str(params["workerId"]))  # its status may change: the next poll looks
        while True:
            generation = signal.generation
            idle = idle_polls.answer(key, generation) if may_skip else None
            if idle is not None:
                # Nothing moved since this idle worker's last attempt: authorized, heard, and waiting.
                self._authorize_only(service, name, params, principal, request_id)
                idle_polls.beat(key[2], dt.datetime.now(dt.UTC))
                output, wait = idle
                hints = CallHints(quiet=True, wait_for_work_seconds=wait)
            else:
                output, hints = self._invoke_once(
                    service, name, params, principal, region, request_id, render, headers or {}
                )
                if service == "deadline" and not hints.quiet:
                    if name not in WORK_ONLY_OPERATIONS:
                        idle_polls.changed(signal.generation)
                    signal.notify()
                elif service == "logs" and not hints.quiet:
                    self.changes.changed("logs")
                if schedule:
                    if hints.wait_for_work_seconds and _nothing_to_tell(output):
                        idle_polls.remember(key, generation, output, hints.wait_for_work_seconds)
                    else:
                        idle_polls.forget(key[2])
            wait = hints.wait_for_work_seconds
            if poll is not None:
                poll.handed_work = not wait and name == "UpdateWorkerSchedule"
            if not wait or isinstance(output, _Rendered):
                return output
            if poll is not None:
                if poll.deadline is None:
                    poll.deadline = time.monotonic() + held_for(float(wait))
                if poll.deadline <= time.monotonic() or self.runtime.stopping.is_set():
                    return output
                poll.generation = generation
                poll.group = str(params.get("fleetId") or "") or None
                raise _WaitForWork(output)
            if deadline is None:
                deadline = time.monotonic() + float(wait)
            remaining = deadline - time.monotonic()
            if (
                remaining <= 0
                or self.runtime.stopping.is_set()
                or not signal.wait_past(generation, remaining)
            ):
                return output
            params = {**params, "updatedSessionActions": {}}

    def _authorize_only(
        self, service: str, name: str, params: dict[str, Any], principal: Principal, request_id: str
    ) -> None:
        """The access check of `_invoke_once` for a call answered without running its handler."""
        caller = caller_of(principal.principal_id, principal.arn, principal.kind, principal.scope)
        reads = self.runtime.access_cache.reads()
        try:
            with self.runtime.store.read() as conn:
                authorize(conn, caller, service, name, params, reads)
        except AccessDeniedError:
            self._record_denial(caller, service, name, params, request_id)
            raise

    def _invoke_once(
        self,
        service: str,
        name: str,
        params: dict[str, Any],
        principal: Principal,
        region: str,
        request_id: str,
        render: Callable[[dict[str, Any] | None], tuple[dict[str, str], bytes]] | None,
        headers: dict[str, str],
    ) -> tuple[Any, CallHints]:
        registered: Registered | None = self.handlers.get((service, name))
        if registered is None:
            raise NotImplementedOperationError(f"{name} is not implemented by this farmhand server")
        caller = caller_of(principal.principal_id, principal.arn, principal.kind, principal.scope)
        store = self.runtime.store
        token = params.get("clientToken") if registered.writes else None
        transaction = store.write if registered.writes else store.read
        rendered: _Rendered | None = None
        reads = self.runtime.access_cache.reads()  # before the transaction: see AccessCache
        try:
            with transaction() as conn:
                decision = authorize(conn, caller, service, name, params, reads)
                call = Call(conn, principal, self.runtime, name, request_id, region, dt.datetime.now(dt.UTC))
                call.headers = headers
                if not registered.writes:
                    call.hints.quiet = True
                if token and render is not None:
                    # The same token sent to two servers at once: the second waits, then replays.
                    exclusive_in_transaction(conn, f"client-token:{principal.principal_id}:{name}:{token}")
                    request_hash = _request_hash(params)
                    replay = _find_replay(call, token, request_hash)
                    if replay is not None:
                        return replay, CallHints(quiet=True)
                output = decision.finish(registered.handler(call, decision.params))
                if registered.writes and _audited(decision.rule, call.hints):
                    record(
                        conn,
                        caller=caller,
                        operation=f"{service}:{name}",
                        farm_id=farm_of(decision.refs, params, output),
                        resource=resource_of(decision.refs, params, output),
                        result=ALLOWED,
                        request_id=request_id,
                        now=call.now,
                    )
                if token and render is not None:
                    # Rendered once: the same bytes are the answer and the record a retry replays.
                    rendered = _Rendered(*render(output))
                    conn.execute(
                        insert(idempotency_records).values(
                            principal_id=principal.principal_id,
                            operation=name,
                            client_token=token,
                            request_hash=request_hash,
                            response={"body": rendered.body.decode()},
                            created_at=call.now,
                        )
                    )
        except AccessDeniedError:
            self._record_denial(caller, service, name, params, request_id)
            raise
        for hook in call.after_commit:
            hook()
        return rendered or output, call.hints

    def _record_denial(
        self, caller: Caller, service: str, name: str, params: dict[str, Any], request_id: str
    ) -> None:
        """A denied call changed nothing; its record goes in a transaction of its own."""
        refs = rule_for(service, name).target(params)
        try:
            with self.runtime.store.write() as conn:
                record(
                    conn,
                    caller=caller,
                    operation=f"{service}:{name}",
                    farm_id=farm_of(refs, params, None),
                    resource=resource_of(refs, params, None),
                    result=DENIED,
                    request_id=request_id,
                    now=dt.datetime.now(dt.UTC),
                )
        except Exception:
            log.exception("denied call %s:%s not recorded in the audit trail", service, name)


def _service_error(exc: Exception, service: str) -> ServiceError:
    """The error a failed call of `service` answers with, the same way for every protocol.

    A store that is away or busy (restarting, unreachable, out of pooled connections, locked, a
    serialization failure) is the fault that service's callers retry (see `_store_faults`); a value
    the store cannot hold is the caller's (a ValidationException, though the models should have
    refused it first); anything else is a fault of the server.
    """
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, DataError):
        log.warning("a request value the store cannot hold: %s", exc)
        return ValidationError(
            "A value of the request does not fit the farm's store (too long or out of range)"
        )
    if is_store_fault(exc):
        return store_unavailable(service, exc)
    log.exception("internal error", exc_info=exc)
    return InternalServerError(f"Internal error: {type(exc).__name__}")


@dataclass
class _Observation:
    """What the metrics learn of one call (see `operations.FarmMetrics`)."""

    service: str
    operation: str = "unknown"
    params: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    started: float = field(default_factory=time.perf_counter)
    waiting: bool = False  # an attempt of a long poll that goes on waiting

    def failed(self, error: ServiceError) -> ServiceError:
        self.error_code = error.code
        return error


def _nothing_to_tell(output: Any) -> bool:
    """An UpdateWorkerSchedule answer with no session and no cancellation (an idle worker's)."""
    return (
        isinstance(output, dict)
        and not output.get("assignedSessions")
        and not output.get("cancelSessionActions")
    )


def _audited(rule: Rule, hints: CallHints) -> bool:
    """Whether a successful write goes to the audit trail (see `access.Audit`)."""
    if rule.audit is Audit.NEVER:
        return False
    return rule.audit is Audit.WRITES or not hints.quiet


class _Rendered:
    """An answer already rendered: a call with a client token, or the stored answer of an earlier
    call with the same client token and request (its replay, without headers)."""

    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.body = body


def _request_hash(params: dict[str, Any]) -> str:
    material = {k: v for k, v in params.items() if k != "clientToken"}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _find_replay(call: Call, token: str, request_hash: str) -> _Rendered | None:
    row = call.conn.execute(
        select(idempotency_records.c.request_hash, idempotency_records.c.response).where(
            and_(
                idempotency_records.c.principal_id == call.principal.principal_id,
                idempotency_records.c.operation == call.operation,
                idempotency_records.c.client_token == token,
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise ConflictError(
            f"clientToken {token} was already used with a different {call.operation} request",
            reason="CONFLICT_EXCEPTION",
            resource_type="clientToken",
            resource_id=token,
        )
    return _Rendered({}, str(row.response["body"]).encode())


# An over-limit body is never buffered: up to this size it is read and thrown away before the 413
# goes out, because closing a socket with unread data resets the connection and the client would
# never see the answer. Beyond it the connection is simply closed.
MAX_DISCARDED_BYTES = 64 * 1024 * 1024


class RequestTimeoutError(ServiceError):
    """The client stopped sending the body it announced (Content-Length longer than what came)."""

    code = "RequestTimeoutException"
    status = 408


async def _read_body(receive: Receive, headers: dict[str, str], limit: int, idle_timeout: float) -> bytes:
    """The whole body; a client that sends nothing for `idle_timeout` seconds in the middle of it
    gets a 408 instead of holding the connection (and a request thread) for ever."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _discard_body(receive, idle_timeout)
        raise PayloadTooLargeError(f"Request body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        with anyio.move_on_after(idle_timeout) as waiting:
            message = await receive()
        if waiting.cancelled_caught:
            raise RequestTimeoutError(
                f"No part of the request body arrived for {idle_timeout:g} s "
                f"({size} of {declared or 'the announced'} bytes received)"
            )
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            if message.get("more_body"):
                await _discard_body(receive, idle_timeout)
            raise PayloadTooLargeError(f"Request body exceeds the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _discard_body(receive: Receive, idle_timeout: float) -> None:
    """Read the rest of a refused body without keeping it (bounded by MAX_DISCARDED_BYTES, and
    given up when it stalls)."""
    discarded = 0
    while discarded <= MAX_DISCARDED_BYTES:
        with anyio.move_on_after(idle_timeout) as waiting:
            message = await receive()
        if waiting.cancelled_caught:
            return
        if message["type"] == "http.disconnect":
            return
        discarded += len(message.get("body", b""))
        if not message.get("more_body"):
            return


async def _send(send: Send, answer: Answer, request_id: str) -> None:
    body = b"" if answer.status == 204 else answer.body
    headers = [
        (b"content-type", answer.content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    headers.extend((k.lower().encode(), v.encode()) for k, v in answer.headers.items())
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_page(send: Send, page: PageAnswer, request_id: str) -> None:
    """A sign-in page answer (its headers may repeat, e.g. two Set-Cookie)."""
    headers = [
        (b"content-type", page.content_type.encode()),
        (b"content-length", str(len(page.body)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    headers.extend((k.lower().encode(), v.encode()) for k, v in page.headers)
    await send({"type": "http.response.start", "status": page.status, "headers": headers})
    await send({"type": "http.response.body", "body": page.body})


async def _lifespan(receive: Receive, send: Send, request_threads: int) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Each request runs on a worker thread (a long poll only while it looks for work).
            anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
