"""Job, step and task rows become the model's output shapes by member name, not by hand lists."""

from __future__ import annotations

import pytest

from farmhand.server.jobs._views import _members
from farmhand.server.store import jobs, steps, tasks

# Each output shape, the table its rows come from, and the members computed instead of read.
CASES = [
    ("JobSummary", jobs, {"taskRunStatusCounts"}),
    ("GetJobResponse", jobs, {"taskRunStatusCounts"}),
    ("JobSearchSummary", jobs, {"taskRunStatusCounts", "jobParameters"}),
    ("StepSummary", steps, {"taskRunStatusCounts", "dependencyCounts"}),
    ("GetStepResponse", steps, {"taskRunStatusCounts", "dependencyCounts"}),
    ("StepSearchSummary", steps, {"taskRunStatusCounts"}),
    ("GetTaskResponse", tasks, {"createdBy"}),
    ("TaskSearchSummary", tasks, set()),
]


@pytest.mark.parametrize(("shape", "table", "computed"), CASES, ids=[c[0] for c in CASES])
def test_every_member_is_a_column_of_its_table_or_computed(
    shape: str, table: object, computed: set[str]
) -> None:
    columns = set(table.c.keys())  # type: ignore[attr-defined]
    unmapped = [
        member for member, column in _members(shape) if column not in columns and member not in computed
    ]
    assert unmapped == []


def test_member_names_become_snake_case_columns() -> None:
    assert dict(_members("GetTaskResponse"))["latestSessionActionId"] == "latest_session_action_id"
    assert dict(_members("JobSummary"))["taskRunStatus"] == "task_run_status"
