"""The search compiler's refusals, for shapes botocore's own client-side checks never let through."""

from __future__ import annotations

from typing import Any

import pytest

from farmhand.server.jobs import JOB_SEARCH, STEP_SEARCH
from farmhand.server.jobs._search import compile_filter, compile_sort
from farmhand.server.protocol import ValidationError

NAME = {"stringFilter": {"name": "NAME", "operator": "EQUAL", "value": "x"}}


def group(*filters: dict[str, Any], operator: str = "AND") -> dict[str, Any]:
    return {"filters": list(filters), "operator": operator}


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        (group({**NAME, "searchTermFilter": {"searchTerm": "x"}}), "exactly one"),
        (group(NAME, NAME, NAME, NAME), "1 to 3"),
        (group(), "1 to 3"),
        (group(NAME, operator="XOR"), "AND or OR"),
        (group({"groupFilter": group({"groupFilter": group(NAME)})}), "group"),
        (group({"searchTermFilter": {"searchTerm": "x", "matchType": "REGEX"}}), "matchType"),
        (group({"stringListFilter": {"name": "NAME", "operator": "ANY_EQUALS", "values": []}}), "1 to 16"),
    ],
    ids=[
        "two-types",
        "four-filters",
        "no-filters",
        "bad-operator",
        "group-in-group",
        "bad-match-type",
        "empty-list",
    ],
)
def test_malformed_expressions_are_refused(expression: dict[str, Any], fragment: str) -> None:
    # Given a malformed expression, When it is compiled, Then it is a ValidationException naming the problem
    with pytest.raises(ValidationError) as info:
        compile_filter(JOB_SEARCH, expression)
    assert fragment in info.value.message


def test_one_level_of_groups_compiles() -> None:
    # Given a group inside the top-level expression, When compiled, Then it is one SQL condition
    condition = compile_filter(JOB_SEARCH, group(NAME, {"groupFilter": group(NAME, NAME, operator="OR")}))
    assert " OR " in str(condition) and " AND " in str(condition)


def test_sort_refusals() -> None:
    with pytest.raises(ValidationError):
        compile_sort(JOB_SEARCH, [{"fieldSort": {"name": "NAME", "sortOrder": "UP"}}])
    with pytest.raises(ValidationError):
        compile_sort(JOB_SEARCH, [{"fieldSort": {"name": "NAME", "sortOrder": "ASCENDING"}}] * 6)
    with pytest.raises(ValidationError) as info:
        compile_sort(STEP_SEARCH, [{"parameterSort": {"name": "Frame", "sortOrder": "ASCENDING"}}])
    assert "parameters" in info.value.message


def test_user_jobs_first_puts_that_principals_jobs_first(tmp_path: Any) -> None:
    import datetime as dt

    from sqlalchemy import insert

    from farmhand.server.jobs import queue_scope, search
    from farmhand.server.store import TASK_RUN_STATUSES, Store, count_column, jobs, sqlite_url

    # Given four jobs in one queue, the second and fourth created by "bob"
    store = Store(sqlite_url(tmp_path))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    creators = ["alice", "bob", "alice", "bob"]
    with store.write() as conn:
        for i, creator in enumerate(creators):
            conn.execute(
                insert(jobs).values(
                    job_id=f"job-{i:032d}",
                    farm_id="farm-1",
                    queue_id="queue-1",
                    name=f"j{i}",
                    priority=50,
                    lifecycle_status="CREATE_COMPLETE",
                    lifecycle_status_message="ok",
                    task_run_status="READY",
                    task_failure_retry_count=0,
                    template="{}",
                    template_type="JSON",
                    created_at=start + dt.timedelta(seconds=i),
                    created_by=f"arn:{creator}",
                    created_by_id=creator,
                    **{count_column(s): 0 for s in TASK_RUN_STATUSES},
                )
            )
    # When searched with bob's jobs first
    params = {"itemOffset": 0, "sortExpressions": [{"userJobsFirst": {"userIdentityId": "bob"}}]}
    with store.read() as conn:
        rows, total, following = search(
            conn, JOB_SEARCH, params, scope=queue_scope(jobs, "farm-1", ["queue-1"], None)
        )
    store.dispose()
    # Then bob's come first, each group in creation order
    assert [r.name for r in rows] == ["j1", "j3", "j0", "j2"]
    assert (total, following) == (4, None)
