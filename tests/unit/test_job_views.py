"""Job, step and task rows become the model's output shapes by member name, not by hand lists."""

from __future__ import annotations

import pytest

from farmhand.server._shape_rows import columns_from_request, shape_members
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
        member for member, column in shape_members(shape) if column not in columns and member not in computed
    ]
    assert unmapped == []


def test_member_names_become_snake_case_columns() -> None:
    assert dict(shape_members("GetTaskResponse"))["latestSessionActionId"] == "latest_session_action_id"
    assert dict(shape_members("JobSummary"))["taskRunStatus"] == "task_run_status"


def test_request_members_go_to_the_columns_of_their_names() -> None:
    # UpdateJob writes what was given (the URI's ids and the client token name the row, not the body)
    given = {"farmId": "farm-1", "jobId": "job-1", "clientToken": "t", "priority": 7, "name": "n"}
    assert columns_from_request("UpdateJobRequest", given, jobs, given_only=True) == {
        "priority": 7,
        "name": "n",
    }
    # CreateJob writes every stored member, None for those not given
    assert columns_from_request("CreateJobRequest", {"priority": 50}, jobs) == {
        "template": None,
        "template_type": None,
        "priority": 50,
        "parameters": None,
        "attachments": None,
        "storage_profile_id": None,
        "target_task_run_status": None,
        "max_failed_tasks_count": None,
        "max_retries_per_task": None,
        "max_worker_count": None,
        "source_job_id": None,
    }
