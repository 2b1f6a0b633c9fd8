"""The job model on both stores: bulk task writing (executemany / COPY), transitions, JSON search."""

from __future__ import annotations

from typing import Any

import pytest
from test_jobs_api import frames, job_template, make_queue, step, submit, wait_created

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)


def test_job_lifecycle_on_each_store(server_any: ServerProcess, deadline_any: Any) -> None:
    deadline = deadline_any
    farm_id = deadline.create_farm(displayName="stores")["farmId"]
    queue_id = make_queue(deadline, farm_id)
    # Given a small job written inline and a large one written in the background
    small = submit(deadline, farm_id, queue_id, job_template(step("R", frames(5)), step("M", depends=["R"])))
    large = submit(deadline, farm_id, queue_id, job_template(step("R", frames(30_000))))
    # Then both are complete with every task counted
    assert wait_created(deadline, farm_id, queue_id, small)["taskRunStatusCounts"]["READY"] == 5
    big = wait_created(deadline, farm_id, queue_id, large)
    assert big["lifecycleStatus"] == "CREATE_COMPLETE" and big["taskRunStatusCounts"]["READY"] == 30_000
    # When the small job's first step is marked succeeded, Then its consumer becomes READY
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": small}
    render, _movie = deadline.list_steps(**ids)["steps"]
    deadline.update_step(**ids, stepId=render["stepId"], targetTaskRunStatus="SUCCEEDED")
    steps = {s["name"]: s for s in deadline.list_steps(**ids)["steps"]}
    assert steps["M"]["taskRunStatus"] == "READY"
    assert steps["M"]["dependencyCounts"]["dependenciesResolved"] == 1
    # And a parameter search over the large job's tasks runs in SQL on this store's JSON type
    found = deadline.search_tasks(
        farmId=farm_id,
        queueIds=[queue_id],
        jobId=large,
        itemOffset=0,
        pageSize=3,
        filterExpressions={
            "filters": [{"parameterFilter": {"name": "Frame", "operator": "GREATER_THAN", "value": "29990"}}],
            "operator": "AND",
        },
        sortExpressions=[{"parameterSort": {"name": "Frame", "sortOrder": "DESCENDING"}}],
    )
    assert found["totalResults"] == 10
    assert [t["parameters"]["Frame"]["int"] for t in found["tasks"]] == ["30000", "29999", "29998"]
    assert found["nextItemOffset"] == 3
    # And the job search sees both jobs, and date-time filters match createdAt as read back
    jobs = deadline.search_jobs(farmId=farm_id, queueIds=[queue_id], itemOffset=0)
    assert jobs["totalResults"] == 2
    created = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=small)["createdAt"]

    def created_filter(operator: str) -> list[str]:
        found = deadline.search_jobs(
            farmId=farm_id,
            queueIds=[queue_id],
            itemOffset=0,
            filterExpressions={
                "filters": [
                    {"dateTimeFilter": {"name": "CREATED_AT", "operator": operator, "dateTime": created}}
                ],
                "operator": "AND",
            },
        )
        return [j["jobId"] for j in found["jobs"]]

    assert created_filter("EQUAL") == [small]
    assert created_filter("GREATER_THAN") == [large]
    assert created_filter("LESS_THAN_EQUAL_TO") == [small]
    assert created_filter("LESS_THAN") == []


def test_task_parameters_round_trip_on_each_store(server_any: ServerProcess, deadline_any: Any) -> None:
    deadline = deadline_any
    farm_id = deadline.create_farm(displayName="escapes")["farmId"]
    queue_id = make_queue(deadline, farm_id)
    # Given string task parameters with backslashes, quotes, tabs and non-ASCII text
    values = ["C:\\renders\\shot", 'say "hi"', "tab\there", "grüße ✓", "back\\\\slash"]
    space = {"taskParameterDefinitions": [{"name": "S", "type": "STRING", "range": values}]}
    job_id = submit(deadline, farm_id, queue_id, job_template(step("R", space)))
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    step_id = deadline.list_steps(**ids)["steps"][0]["stepId"]
    # When the tasks are read back, Then every value is exactly as written in the template
    tasks = deadline.list_tasks(**ids, stepId=step_id)["tasks"]
    assert [t["parameters"]["S"]["string"] for t in tasks] == values
