"""Prometheus metrics of one farm server, served at `/metrics` (prometheus-client's text format).

Two kinds:

* what this server did since it started (counters and histograms, kept in memory): API calls, their
  errors and latency per operation, log events ingested, object-store requests and bytes, and the
  dispatch latency of tasks (READY → RUNNING, observed by the server the worker reports to). With
  several servers, scrape each and sum.
* what the farm holds now (gauges read from the database at each scrape, the same from every
  server): workers by status per fleet, tasks by status per queue (from the jobs' status counters,
  no task scan) and jobs by status. With several servers, take one of them (e.g. `max`).

Who may read it is the server's `--metrics-access`: `local` (the default: clients on the server's
own host), `open`, `token` (an `Authorization: Bearer` token, `FARMHAND_METRICS_TOKEN`) or `off`.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..store import TASK_RUN_STATUSES, Store, count_column, jobs, workers

METRICS_PATH = "/metrics"
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: API calls are milliseconds; long polls and dispatch can take up to a minute.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DISPATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class MetricsAccess(enum.Enum):
    OFF = "off"
    LOCAL = "local"
    OPEN = "open"
    TOKEN = "token"


class FarmMetrics:
    """The metrics of one server, in a registry of its own."""

    def __init__(self, store: Store, node_id: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.api_calls = Counter(
            "farmhand_api_calls",
            "API calls answered, by service and operation",
            ["service", "operation"],
            registry=self.registry,
        )
        self.api_errors = Counter(
            "farmhand_api_errors",
            "API calls answered with an error, by service, operation and error code",
            ["service", "operation", "code"],
            registry=self.registry,
        )
        self.api_seconds = Histogram(
            "farmhand_api_call_seconds",
            "Time to answer an API call (long polls included), by service and operation",
            ["service", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.log_events = Counter(
            "farmhand_log_events_ingested", "Log events received through PutLogEvents", registry=self.registry
        )
        self.object_requests = Counter(
            "farmhand_object_store_requests",
            "Requests to the farm's object store (S3), by method and status class",
            ["method", "status"],
            registry=self.registry,
        )
        self.object_bytes = Counter(
            "farmhand_object_store_bytes",
            "Bytes through the farm's object store, by direction (in: request bodies, out: responses)",
            ["direction"],
            registry=self.registry,
        )
        self.dispatch_seconds = Histogram(
            "farmhand_dispatch_latency_seconds",
            "Seconds from a task becoming READY to its run starting on a worker (READY → RUNNING)",
            buckets=DISPATCH_BUCKETS,
            registry=self.registry,
        )
        info = Gauge("farmhand_server_info", "This server (value 1)", ["node"], registry=self.registry)
        info.labels(node=node_id).set(1)
        self.registry.register(FarmStateCollector(store))

    def observe_call(
        self, service: str, operation: str, seconds: float, error_code: str | None, params: dict[str, Any]
    ) -> None:
        self.api_calls.labels(service, operation).inc()
        self.api_seconds.labels(service, operation).observe(seconds)
        if error_code is not None:
            self.api_errors.labels(service, operation, error_code).inc()
        elif operation == "PutLogEvents":
            self.log_events.inc(len(params.get("logEvents") or []))

    def observe_dispatch(self, latencies: Iterable[float]) -> None:
        for seconds in latencies:
            self.dispatch_seconds.observe(seconds)

    def observe_object_request(self, method: str, status: int, bytes_in: int, bytes_out: int) -> None:
        self.object_requests.labels(method, f"{status // 100}xx").inc()
        if bytes_in:
            self.object_bytes.labels("in").inc(bytes_in)
        if bytes_out:
            self.object_bytes.labels("out").inc(bytes_out)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class FarmStateCollector(Collector):
    """Gauges of what the farm holds, read from the database at each scrape (three grouped queries)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> Iterator[Any]:
        return iter(())  # read at scrape time only: never at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        started = time.monotonic()
        by_fleet = GaugeMetricFamily(
            "farmhand_workers", "Workers by status, per fleet", labels=["farm_id", "fleet_id", "status"]
        )
        by_queue = GaugeMetricFamily(
            "farmhand_tasks", "Tasks by run status, per queue", labels=["farm_id", "queue_id", "status"]
        )
        jobs_by_status = GaugeMetricFamily(
            "farmhand_jobs", "Jobs by task run status, per queue", labels=["farm_id", "queue_id", "status"]
        )
        counters = [func.coalesce(func.sum(jobs.c[count_column(s)]), 0) for s in TASK_RUN_STATUSES]
        with self.store.read() as conn:
            for row in conn.execute(
                select(workers.c.farm_id, workers.c.fleet_id, workers.c.status, func.count()).group_by(
                    workers.c.farm_id, workers.c.fleet_id, workers.c.status
                )
            ):
                by_fleet.add_metric([row[0], row[1], row[2]], float(row[3]))
            for row in conn.execute(
                select(jobs.c.farm_id, jobs.c.queue_id, *counters).group_by(jobs.c.farm_id, jobs.c.queue_id)
            ):
                for status, value in zip(TASK_RUN_STATUSES, row[2:], strict=True):
                    by_queue.add_metric([row[0], row[1], status], float(value))
            for row in conn.execute(
                select(jobs.c.farm_id, jobs.c.queue_id, jobs.c.task_run_status, func.count()).group_by(
                    jobs.c.farm_id, jobs.c.queue_id, jobs.c.task_run_status
                )
            ):
                jobs_by_status.add_metric([row[0], row[1], row[2]], float(row[3]))
        took = GaugeMetricFamily(
            "farmhand_metrics_query_seconds", "Time this scrape spent reading the farm's state"
        )
        took.add_metric([], time.monotonic() - started)
        yield from (by_fleet, by_queue, jobs_by_status, took)


def metrics_allowed(
    access: MetricsAccess, token: str | None, client_host: str | None, headers: dict[str, str]
) -> bool:
    """May this request read /metrics?"""
    if access is MetricsAccess.OPEN:
        return True
    if access is MetricsAccess.LOCAL:
        try:
            return client_host is not None and ipaddress.ip_address(client_host).is_loopback
        except ValueError:
            return False
    if access is MetricsAccess.TOKEN and token:
        given = headers.get("authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode())
    return False
