"""Writing a planned job: the job row, step rows, dependency rows and (in bulk) task rows.

Tasks go in as plain tuples through the driver's executemany (SQLite) or COPY (PostgreSQL), with
their parameters already JSON text: no per-row ORM or type-processing work. Jobs up to
`INLINE_TASK_LIMIT` tasks are written inside the CreateJob transaction; larger ones are written
after the answer, in chunks of `CHUNK_SIZE` tasks per transaction (other writers interleave), while
GetJob reports CREATE_IN_PROGRESS.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from sqlalchemy import Connection, insert, update

from ..store import TASK_RUN_STATUSES, count_column, jobs, step_dependencies, steps
from ._instantiate import JobPlan, StepPlan, int_progressions, task_parameter_texts
from ._transitions import refresh_job

log = logging.getLogger("farmhand.server.jobs")

INLINE_TASK_LIMIT = 20_000
CHUNK_SIZE = 200_000  # tasks per transaction: ~2 s of SQLite's write lock at most
_COPY_ROWS_PER_WRITE = 20_000
_ROWS_PER_STATEMENT = 100  # 1,000 bound values per statement, far below SQLite's limit
_BULK_CACHE_KIB = 262_144  # SQLite page cache while a large job's tasks go in
CREATE_COMPLETE_MESSAGE = "Job creation completed successfully"
CREATE_IN_PROGRESS_MESSAGE = "Job creation in progress"

_TASK_COLUMNS = (
    "task_id",
    "step_id",
    "job_id",
    "queue_id",
    "farm_id",
    "task_index",
    "run_status",
    "failure_retry_count",
    "parameters",
    "created_at",
)


def zero_counters() -> dict[str, int]:
    return {count_column(s): 0 for s in TASK_RUN_STATUSES}


def insert_job_rows(
    conn: Connection,
    plan: JobPlan,
    *,
    job_id: str,
    farm_id: str,
    queue_id: str,
    now: dt.datetime,
    by: str,
    fields: dict[str, Any],
) -> None:
    """The job, its steps and its step dependencies (no tasks yet; counters at zero)."""
    first_status = next((s.initial_status for s in plan.steps if not s.upstream), "READY")
    conn.execute(
        insert(jobs).values(
            job_id=job_id,
            farm_id=farm_id,
            queue_id=queue_id,
            name=plan.name,
            description=plan.description,
            lifecycle_status="CREATE_IN_PROGRESS",
            lifecycle_status_message=CREATE_IN_PROGRESS_MESSAGE,
            task_run_status=first_status,
            task_failure_retry_count=0,
            extensions=plan.extensions,
            resolved_parameters=plan.resolved_parameters,
            environments=plan.environments,
            resolved_symbol_table=plan.resolved_symbol_table,
            created_at=now,
            created_by=by,
            **fields,
            **zero_counters(),
        )
    )
    conn.execute(
        insert(steps),
        [
            {
                "step_id": step.step_id,
                "job_id": job_id,
                "queue_id": queue_id,
                "farm_id": farm_id,
                "step_index": step.index,
                "name": step.name,
                "description": step.description,
                "lifecycle_status": "CREATE_COMPLETE",
                "lifecycle_status_message": None,
                "task_run_status": step.initial_status,
                "task_failure_retry_count": 0,
                "task_count": step.task_count,
                "template": step.template,
                "parameter_space": step.parameter_space,
                "required_capabilities": step.required_capabilities,
                "resolved_symbol_table": step.resolved_symbol_table,
                "created_at": now,
                "created_by": by,
                **zero_counters(),
            }
            for step in plan.steps
        ],
    )
    dependencies = [
        {"job_id": job_id, "step_id": step.step_id, "depends_on_step_id": upstream}
        for step in plan.steps
        for upstream in dict.fromkeys(step.upstream)
    ]
    if dependencies:
        conn.execute(insert(step_dependencies), dependencies)


def task_rows(
    step: StepPlan, *, job_id: str, farm_id: str, queue_id: str, now: dt.datetime, start: int = 0
) -> Iterator[tuple[Any, ...]]:
    """The step's task rows from index `start` on, as plain tuples in `_TASK_COLUMNS` order."""
    prefix = f"task-{step.step_id.split('-', 1)[1]}-"
    created = now.timestamp()
    status = step.initial_status
    step_id = step.step_id
    texts = islice(task_parameter_texts(step.space), start, None)
    for index, parameters in enumerate(texts, start):
        yield (f"{prefix}{index}", step_id, job_id, queue_id, farm_id, index, status, 0, parameters, created)


def insert_task_rows(conn: Connection, step: StepPlan, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert task tuples of one step and add them to the step and job counters."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY tasks ({', '.join(_TASK_COLUMNS)}) FROM STDIN") as copy,
        ):
            for start in range(0, len(rows), _COPY_ROWS_PER_WRITE):
                copy.write(_copy_text(rows[start : start + _COPY_ROWS_PER_WRITE]))
    else:
        _sqlite_insert(conn, rows)
    _count_inserted(conn, step, str(rows[0][2]), len(rows))


def _count_inserted(conn: Connection, step: StepPlan, job_id: str, n: int) -> None:
    counter = count_column(step.initial_status)
    conn.execute(update(steps).where(steps.c.step_id == step.step_id).values({counter: steps.c[counter] + n}))
    conn.execute(update(jobs).where(jobs.c.job_id == job_id).values({counter: jobs.c[counter] + n}))


@dataclass(frozen=True)
class GeneratedSpan:
    """Tasks `index_start + i` with parameter value `first + i * delta`, for i in [0, count)."""

    name: str
    index_start: int
    first: int
    delta: int
    count: int


def generated_spans(step: StepPlan, limit: int, start: int = 0) -> list[GeneratedSpan] | None:
    """The step's tasks from index `start` on as spans the database generates itself (one INT
    range), at most `limit` each."""
    found = int_progressions(step.space)
    if found is None:
        return None
    name, progressions = found
    spans: list[GeneratedSpan] = []
    index = 0
    for first, delta, count in progressions:
        skip = min(count, max(0, start - index))
        for offset in range(skip, count, limit):
            size = min(limit, count - offset)
            spans.append(GeneratedSpan(name, index + offset, first + offset * delta, delta, size))
        index += count
    return spans


_SQLITE_GENERATE = (
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
    f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS)}) "
    "SELECT ? || (? + i), ?, ?, ?, ?, ? + i, ?, 0, ? || (? + i * ?) || ?, ? FROM n"
)
_POSTGRES_GENERATE = (
    f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS)}) "
    "SELECT %s::text || (%s::int + i)::text, %s::text, %s::text, %s::text, %s::text, %s::int + i, "
    "%s::text, 0, (%s::text || (%s::bigint + i::bigint * %s::bigint)::text || %s::text)::jsonb, %s::float8 "
    "FROM generate_series(0, %s::int - 1) AS i"
)


def insert_generated(
    conn: Connection,
    step: StepPlan,
    span: GeneratedSpan,
    *,
    job_id: str,
    farm_id: str,
    queue_id: str,
    created: float,
) -> None:
    """Insert one span of tasks generated inside the database (values and JSON built by SQL)."""
    prefix = f"task-{step.step_id.split('-', 1)[1]}-"
    head, tail = "{" + json.dumps(span.name) + ':{"int":"', '"}}'
    common = (step.step_id, job_id, queue_id, farm_id, span.index_start, step.initial_status)
    values = (head, span.first, span.delta, tail, created)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_POSTGRES_GENERATE, (prefix, span.index_start, *common, *values, span.count))
    else:
        conn.exec_driver_sql(_SQLITE_GENERATE, (span.count, prefix, span.index_start, *common, *values))
    _count_inserted(conn, step, job_id, span.count)


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    r"""Task rows in COPY's text format as one string.

    Ids, statuses and numbers never need escaping; the parameters JSON is ASCII without raw control
    characters, so doubling its backslashes is all COPY needs; a missing value is `\N`.
    """
    lines = []
    for task_id, step_id, job_id, queue_id, farm_id, index, status, retries, parameters, created in rows:
        params = "\\N" if parameters is None else parameters.replace("\\", "\\\\")
        lines.append(
            f"{task_id}\t{step_id}\t{job_id}\t{queue_id}\t{farm_id}\t{index}\t{status}\t{retries}\t{params}\t{created!r}\n"
        )
    return "".join(lines)


def _sqlite_insert(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Many rows per INSERT statement: SQLite's per-statement overhead paid once per batch."""
    one = "(" + ", ".join("?" for _ in _TASK_COLUMNS) + ")"
    head = f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS)}) VALUES "
    full = len(rows) - len(rows) % _ROWS_PER_STATEMENT
    if full:
        batch_sql = head + ", ".join([one] * _ROWS_PER_STATEMENT)
        conn.exec_driver_sql(
            batch_sql,
            [
                tuple(chain.from_iterable(rows[start : start + _ROWS_PER_STATEMENT]))
                for start in range(0, full, _ROWS_PER_STATEMENT)
            ],
        )
    if full < len(rows):
        conn.exec_driver_sql(head + one, rows[full:])


def complete_creation(conn: Connection, job_id: str, *, now: dt.datetime) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.job_id == job_id)
        .values(lifecycle_status="CREATE_COMPLETE", lifecycle_status_message=CREATE_COMPLETE_MESSAGE)
    )
    refresh_job(conn, job_id, now=now)


def write_tasks_inline(
    conn: Connection, plan: JobPlan, *, job_id: str, farm_id: str, queue_id: str, now: dt.datetime
) -> None:
    created = now.timestamp()
    for step in plan.steps:
        spans = generated_spans(step, INLINE_TASK_LIMIT)
        if spans is None:
            rows = list(task_rows(step, job_id=job_id, farm_id=farm_id, queue_id=queue_id, now=now))
            insert_task_rows(conn, step, rows)
            continue
        for span in spans:
            insert_generated(
                conn, step, span, job_id=job_id, farm_id=farm_id, queue_id=queue_id, created=created
            )
    complete_creation(conn, job_id, now=now)


@contextmanager
def _bulk_cache(conn: Connection) -> Iterator[None]:
    """A large page cache for SQLite while index pages of a million rows churn, then back to normal."""
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(previous or -2000)}")


_DONE = object()


def _prepared_chunks(
    plan: JobPlan,
    *,
    job_id: str,
    farm_id: str,
    queue_id: str,
    now: dt.datetime,
    written: Mapping[str, int],
) -> Iterator[tuple[StepPlan, list[tuple[Any, ...]] | GeneratedSpan]]:
    """Chunks of task rows (or spans the database generates), built one ahead on another thread
    while the database takes the last one: the driver releases the GIL while it writes. Each step
    starts after the tasks `written` says it already has.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)

    def produce() -> None:
        try:
            for step in plan.steps:
                start = written.get(step.step_id, 0)
                if start >= step.task_count:
                    continue
                spans = generated_spans(step, CHUNK_SIZE, start)
                if spans is not None:
                    for span in spans:
                        ready.put((step, span))
                    continue
                ids = {"job_id": job_id, "farm_id": farm_id, "queue_id": queue_id}
                rows = task_rows(step, now=now, start=start, **ids)
                while chunk := list(islice(rows, CHUNK_SIZE)):
                    ready.put((step, chunk))
            ready.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            ready.put(error)

    threading.Thread(target=produce, name=f"tasks-{job_id}", daemon=True).start()
    while (item := ready.get()) is not _DONE:
        if isinstance(item, BaseException):
            raise item
        yield item


def write_tasks_later(
    write: Callable[[], AbstractContextManager[Connection]],
    plan: JobPlan,
    *,
    job_id: str,
    farm_id: str,
    queue_id: str,
    now: dt.datetime,
    written: Mapping[str, int] | None = None,
) -> None:
    """Background body for a large job: tasks in chunks, then CREATE_COMPLETE (or CREATE_FAILED).

    `written` gives, per step id, how many of its first tasks are already in the store (a creation
    resumed after a stop); only the rest is written.
    """
    try:
        created = now.timestamp()
        chunks = _prepared_chunks(
            plan, job_id=job_id, farm_id=farm_id, queue_id=queue_id, now=now, written=written or {}
        )
        for step, chunk in chunks:
            with write() as conn, _bulk_cache(conn):
                if isinstance(chunk, GeneratedSpan):
                    ids = {"job_id": job_id, "farm_id": farm_id, "queue_id": queue_id}
                    insert_generated(conn, step, chunk, created=created, **ids)
                else:
                    insert_task_rows(conn, step, chunk)
        with write() as conn:
            complete_creation(conn, job_id, now=dt.datetime.now(dt.UTC))
    except Exception as error:
        log.exception("writing the tasks of %s failed", job_id)
        with write() as conn:
            fail_creation(conn, job_id, f"Could not write the tasks: {error}", now=dt.datetime.now(dt.UTC))


def fail_creation(conn: Connection, job_id: str, reason: str, *, now: dt.datetime) -> None:
    """A job whose creation cannot be finished: CREATE_FAILED, and FAILED for whoever waits on it.

    Waiters (`deadline job wait`, `wait_for_job_completion`) look only at `taskRunStatus`, so the job
    and its steps end FAILED, with the reason in `lifecycleStatusMessage`. Its tasks stay as
    written: a CREATE_FAILED job is never scheduled and its tasks cannot change.
    """
    conn.execute(
        update(jobs)
        .where(jobs.c.job_id == job_id)
        .values(
            lifecycle_status="CREATE_FAILED",
            lifecycle_status_message=reason,
            task_run_status="FAILED",
            ended_at=now,
        )
    )
    conn.execute(update(steps).where(steps.c.job_id == job_id).values(task_run_status="FAILED", ended_at=now))
