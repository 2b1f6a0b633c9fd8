"""SearchJobs / SearchSteps / SearchTasks: the filter-expression grammar compiled to SQL.

Accepted field names (stringFilter, stringListFilter, dateTimeFilter, fieldSort):

- jobs: JOB_ID, QUEUE_ID, NAME, TASK_RUN_STATUS, TARGET_TASK_RUN_STATUS, LIFECYCLE_STATUS,
  CREATED_BY, PRIORITY (number), MAX_WORKER_COUNT (number), CREATED_AT, UPDATED_AT, STARTED_AT,
  ENDED_AT (date-times);
- steps: STEP_ID, JOB_ID, QUEUE_ID, NAME, TASK_RUN_STATUS, TARGET_TASK_RUN_STATUS,
  LIFECYCLE_STATUS, CREATED_AT, UPDATED_AT, STARTED_AT, ENDED_AT;
- tasks: TASK_ID, STEP_ID, JOB_ID, QUEUE_ID, TASK_RUN_STATUS (alias RUN_STATUS),
  TARGET_RUN_STATUS, LATEST_SESSION_ACTION_ID, FAILURE_RETRY_COUNT (number), CREATED_AT,
  UPDATED_AT, STARTED_AT, ENDED_AT.

Operators: stringFilter EQUAL/NOT_EQUAL (numbers also GREATER_THAN[_EQUAL_TO]/LESS_THAN[_EQUAL_TO]);
stringListFilter ANY_EQUALS/ALL_NOT_EQUALS; dateTimeFilter EQUAL and the four comparisons;
parameterFilter EQUAL/NOT_EQUAL and the comparisons, on a job parameter (jobs: the resolved
parameters, defaults included) or a task parameter (tasks), written `Name`, `Param.Name` or
`Task.Param.Name`, compared as numbers when the value is a number; searchTermFilter CONTAINS (the
exact term is a case-insensitive substring of the name or id) or FUZZY_MATCH (any word of the term
is). A groupFilter may sit in the top-level expression but not inside another group; each level
holds 1 to 3 filters. Sorts: fieldSort on the fields above, parameterSort on a parameter (numbers
numerically), userJobsFirst (that principal's jobs first). Unknown names or operators are a
ValidationException. Results are counted and paged in SQL (itemOffset, pageSize ≤ 100).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)

from ..protocol import ValidationError
from ..store import jobs, steps, tasks, tasks_of_job

MAX_PAGE_SIZE = 100
MAX_FILTERS = 3
MAX_SORTS = 5
_COMPARISONS = {
    "EQUAL": lambda a, b: a == b,
    "NOT_EQUAL": lambda a, b: a != b,
    "GREATER_THAN": lambda a, b: a > b,
    "GREATER_THAN_EQUAL_TO": lambda a, b: a >= b,
    "LESS_THAN": lambda a, b: a < b,
    "LESS_THAN_EQUAL_TO": lambda a, b: a <= b,
}
_ORDERING = ("GREATER_THAN", "GREATER_THAN_EQUAL_TO", "LESS_THAN", "LESS_THAN_EQUAL_TO")
_UNION_MEMBERS = ("int", "float", "string", "path", "chunkInt", "bool", "rangeExpr")


@dataclass(frozen=True)
class Field:
    columns: tuple[Any, ...]
    kind: str  # "string" | "number" | "datetime"


@dataclass(frozen=True)
class SearchTarget:
    """What one Search* operation searches: its table, fields, text columns and parameters."""

    table: Table
    fields: Mapping[str, Field]
    text_columns: tuple[Any, ...]
    parameters: Any | None
    order_tail: tuple[Any, ...]
    creator: Any


def _s(*columns: Any) -> Field:
    return Field(tuple(columns), "string")


def _n(column: Any) -> Field:
    return Field((column,), "number")


def _d(column: Any) -> Field:
    return Field((column,), "datetime")


def _dates(table: Table) -> dict[str, Field]:
    return {
        "CREATED_AT": _d(table.c.created_at),
        "UPDATED_AT": _d(table.c.updated_at),
        "STARTED_AT": _d(table.c.started_at),
        "ENDED_AT": _d(table.c.ended_at),
    }


def _job_creator(job_id: Any) -> Any:
    return select(jobs.c.created_by_id).where(jobs.c.job_id == job_id).scalar_subquery()


JOB_SEARCH = SearchTarget(
    table=jobs,
    fields={
        "JOB_ID": _s(jobs.c.job_id),
        "QUEUE_ID": _s(jobs.c.queue_id),
        "NAME": _s(jobs.c.name),
        "TASK_RUN_STATUS": _s(jobs.c.task_run_status),
        "TARGET_TASK_RUN_STATUS": _s(jobs.c.target_task_run_status),
        "LIFECYCLE_STATUS": _s(jobs.c.lifecycle_status),
        "CREATED_BY": _s(jobs.c.created_by, jobs.c.created_by_id),
        "PRIORITY": _n(jobs.c.priority),
        "MAX_WORKER_COUNT": _n(jobs.c.max_worker_count),
        **_dates(jobs),
    },
    text_columns=(jobs.c.name, jobs.c.job_id),
    parameters=jobs.c.resolved_parameters,
    order_tail=(jobs.c.created_at, jobs.c.job_id),
    creator=jobs.c.created_by_id,
)

STEP_SEARCH = SearchTarget(
    table=steps,
    fields={
        "STEP_ID": _s(steps.c.step_id),
        "JOB_ID": _s(steps.c.job_id),
        "QUEUE_ID": _s(steps.c.queue_id),
        "NAME": _s(steps.c.name),
        "TASK_RUN_STATUS": _s(steps.c.task_run_status),
        "TARGET_TASK_RUN_STATUS": _s(steps.c.target_task_run_status),
        "LIFECYCLE_STATUS": _s(steps.c.lifecycle_status),
        **_dates(steps),
    },
    text_columns=(steps.c.name, steps.c.step_id),
    parameters=None,
    order_tail=(steps.c.created_at, steps.c.job_id, steps.c.step_index),
    creator=_job_creator(steps.c.job_id),
)

TASK_SEARCH = SearchTarget(
    table=tasks,
    fields={
        "TASK_ID": _s(tasks.c.task_id),
        "STEP_ID": _s(tasks.c.step_id),
        "JOB_ID": _s(tasks.c.job_id),
        "QUEUE_ID": _s(tasks.c.queue_id),
        "TASK_RUN_STATUS": _s(tasks.c.run_status),
        "RUN_STATUS": _s(tasks.c.run_status),
        "TARGET_RUN_STATUS": _s(tasks.c.target_run_status),
        "LATEST_SESSION_ACTION_ID": _s(tasks.c.latest_session_action_id),
        "FAILURE_RETRY_COUNT": _n(tasks.c.failure_retry_count),
        **_dates(tasks),
    },
    text_columns=(tasks.c.task_id, cast(tasks.c.parameters, String)),
    parameters=tasks.c.parameters,
    order_tail=(tasks.c.created_at, tasks.c.job_id, tasks.c.step_id, tasks.c.task_index),
    creator=_job_creator(tasks.c.job_id),
)


def _invalid(where: str, problem: str) -> ValidationError:
    return ValidationError.for_field(where, problem)


def _field(target: SearchTarget, name: str, where: str) -> Field:
    found = target.fields.get(name)
    if found is None:
        known = ", ".join(sorted(target.fields))
        raise _invalid(f"{where}.name", f"unknown field {name!r}; known fields: {known}")
    return found


def _operator(operator: str, allowed: Sequence[str], where: str) -> str:
    if operator not in allowed:
        raise _invalid(
            f"{where}.operator", f"{operator!r} is not allowed here; use one of {', '.join(allowed)}"
        )
    return operator


def _parameter_value(target: SearchTarget, name: str, where: str) -> tuple[Any, Any]:
    """The parameter's value as text and as a number (SQL expressions)."""
    if target.parameters is None:
        raise _invalid(where, "steps have no parameters to filter or sort on")
    bare = re.sub(r"^(Task\.)?Param\.", "", name)
    if not bare:
        raise _invalid(f"{where}.name", "names no parameter")
    node = target.parameters[bare]
    text = func.coalesce(*(node[m].as_string() for m in _UNION_MEMBERS))
    number = cast(func.coalesce(node["int"].as_string(), node["float"].as_string()), Float)
    return text, number


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def compile_filter(
    target: SearchTarget, expression: Mapping[str, Any], *, depth: int = 0, where: str = "filterExpressions"
) -> ColumnElement[bool]:
    """One filter group (`{filters, operator}`) as a SQL condition."""
    filters = expression.get("filters") or []
    if not 1 <= len(filters) <= MAX_FILTERS:
        raise _invalid(f"{where}.filters", f"must hold 1 to {MAX_FILTERS} filters")
    operator = expression.get("operator")
    if operator not in ("AND", "OR"):
        raise _invalid(f"{where}.operator", "must be AND or OR")
    parts = [_compile_one(target, item, depth, f"{where}.filters[{i}]") for i, item in enumerate(filters)]
    return and_(*parts) if operator == "AND" else or_(*parts)


def _compile_one(
    target: SearchTarget, item: Mapping[str, Any], depth: int, where: str
) -> ColumnElement[bool]:
    members = [k for k, v in item.items() if v is not None]
    if len(members) != 1:
        raise _invalid(where, "must set exactly one filter type")
    kind, spec = members[0], item[members[0]]
    here = f"{where}.{kind}"
    if kind == "groupFilter":
        if depth >= 1:
            raise _invalid(here, "a group inside a group may not hold another group")
        return compile_filter(target, spec, depth=depth + 1, where=here)
    if kind == "stringFilter":
        field = _field(target, spec["name"], here)
        if field.kind == "datetime":
            raise _invalid(f"{here}.name", f"{spec['name']} is a date-time: use dateTimeFilter")
        allowed = ("EQUAL", "NOT_EQUAL", *_ORDERING) if field.kind == "number" else ("EQUAL", "NOT_EQUAL")
        op = _operator(spec["operator"], allowed, here)
        value: Any = spec["value"]
        if field.kind == "number":
            number = _number(value)
            if number is None:
                raise _invalid(f"{here}.value", f"{spec['name']} is a number")
            value = number
        if op == "NOT_EQUAL":
            return and_(*(or_(c.is_(None), c != value) for c in field.columns))
        if op == "EQUAL":
            return or_(*(c == value for c in field.columns))
        return or_(*(_COMPARISONS[op](c, value) for c in field.columns))
    if kind == "stringListFilter":
        field = _field(target, spec["name"], here)
        if field.kind == "datetime":
            raise _invalid(f"{here}.name", f"{spec['name']} is a date-time: use dateTimeFilter")
        op = _operator(spec["operator"], ("ANY_EQUALS", "ALL_NOT_EQUALS"), here)
        values = list(spec["values"])
        if not 1 <= len(values) <= 16:
            raise _invalid(f"{here}.values", "must hold 1 to 16 values")
        if field.kind == "number":
            numbers = [_number(v) for v in values]
            if any(n is None for n in numbers):
                raise _invalid(f"{here}.values", f"{spec['name']} is a number")
            values = numbers
        matched = or_(*(c.in_(values) for c in field.columns))
        if op == "ANY_EQUALS":
            return matched
        return and_(*(or_(c.is_(None), c.not_in(values)) for c in field.columns))
    if kind == "dateTimeFilter":
        field = _field(target, spec["name"], here)
        if field.kind != "datetime":
            raise _invalid(f"{here}.name", f"{spec['name']} is not a date-time field")
        op = _operator(spec["operator"], ("EQUAL", *_ORDERING), here)
        return _millisecond_comparison(field.columns[0], op, spec["dateTime"])
    if kind == "parameterFilter":
        op = _operator(spec["operator"], ("EQUAL", "NOT_EQUAL", *_ORDERING), here)
        text, number = _parameter_value(target, spec["name"], here)
        wanted = _number(spec["value"])
        expr, value = (number, wanted) if wanted is not None else (text, spec["value"])
        condition = _COMPARISONS[op](expr, value)
        if op == "NOT_EQUAL":
            return or_(text.is_(None), condition)
        return and_(text.is_not(None), condition)
    if kind == "searchTermFilter":
        term = str(spec["searchTerm"])
        match_type = spec.get("matchType") or "FUZZY_MATCH"
        if match_type == "CONTAINS":
            words = [term]
        elif match_type == "FUZZY_MATCH":
            words = [w for w in re.split(r"[\s_\-.,/]+", term) if w] or [term]
        else:
            raise _invalid(f"{here}.matchType", "must be FUZZY_MATCH or CONTAINS")
        return or_(
            *(func.lower(c).contains(w.lower(), autoescape=True) for c in target.text_columns for w in words)
        )
    raise _invalid(where, f"unknown filter type {kind!r}")


def _millisecond_comparison(column: Any, op: str, when: dt.datetime) -> ColumnElement[bool]:
    """Compare at the wire's millisecond precision (it truncates), so a createdAt read back matches.

    The millisecond `when` names covers stored instants in [start, start + 1 ms).
    """
    start = dt.datetime.fromtimestamp(math.floor(round(when.timestamp() * 1000, 3)) / 1000, dt.UTC)
    end = start + dt.timedelta(milliseconds=1)
    if op == "EQUAL":
        return and_(column >= start, column < end)
    if op == "GREATER_THAN":
        return column >= end  # type: ignore[no-any-return]
    if op == "GREATER_THAN_EQUAL_TO":
        return column >= start  # type: ignore[no-any-return]
    if op == "LESS_THAN":
        return column < start  # type: ignore[no-any-return]
    return column < end  # type: ignore[no-any-return]


def compile_sort(target: SearchTarget, sorts: Sequence[Mapping[str, Any]]) -> list[Any]:
    if len(sorts) > MAX_SORTS:
        raise _invalid("sortExpressions", f"may hold at most {MAX_SORTS} sorts")
    order: list[Any] = []
    for i, item in enumerate(sorts):
        where = f"sortExpressions[{i}]"
        members = [k for k, v in item.items() if v is not None]
        if len(members) != 1:
            raise _invalid(where, "must set exactly one sort type")
        kind, spec = members[0], item[members[0]]
        if kind == "userJobsFirst":
            order.append(case((target.creator == spec["userIdentityId"], 0), else_=1))
            continue
        descending = spec.get("sortOrder") == "DESCENDING"
        if spec.get("sortOrder") not in ("ASCENDING", "DESCENDING"):
            raise _invalid(f"{where}.{kind}.sortOrder", "must be ASCENDING or DESCENDING")
        if kind == "fieldSort":
            columns = list(_field(target, spec["name"], f"{where}.fieldSort").columns[:1])
        elif kind == "parameterSort":
            text, number = _parameter_value(target, spec["name"], f"{where}.parameterSort")
            columns = [number, text]
        else:
            raise _invalid(where, f"unknown sort type {kind!r}")
        for column in columns:
            order.append((column.desc() if descending else column.asc()).nulls_last())
    return order


def search(
    conn: Connection,
    target: SearchTarget,
    params: Mapping[str, Any],
    *,
    scope: ColumnElement[bool],
) -> tuple[list[Any], int, int | None]:
    """Rows of one page, the total number of matches, and the next offset (None on the last page)."""
    offset = int(params.get("itemOffset") or 0)
    size = int(params.get("pageSize") or MAX_PAGE_SIZE)
    if not 0 <= offset <= 10_000:
        raise _invalid("itemOffset", "must be between 0 and 10000")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    condition: ColumnElement[bool] = scope
    if params.get("filterExpressions"):
        condition = and_(condition, compile_filter(target, params["filterExpressions"]))
    order = compile_sort(target, params.get("sortExpressions") or [])
    total = int(conn.execute(select(func.count()).select_from(target.table).where(condition)).scalar() or 0)
    rows = list(
        conn.execute(
            select(target.table)
            .where(condition)
            .order_by(*order, *target.order_tail)
            .offset(offset)
            .limit(size)
        )
    )
    following = offset + len(rows)
    return rows, total, following if following < total else None


def queue_scope(
    table: Table, farm_id: str, queue_ids: Sequence[str], job_id: str | None
) -> ColumnElement[bool]:
    if not 1 <= len(queue_ids) <= 10:
        raise _invalid("queueIds", "must hold 1 to 10 queue ids")
    condition = and_(table.c.farm_id == farm_id, table.c.queue_id.in_(list(queue_ids)))
    if job_id:
        condition = and_(condition, table.c.job_id == job_id)
        if table is tasks:  # tasks carry no job index: reach them through the job's steps
            condition = and_(condition, tasks_of_job(job_id))
    return condition
