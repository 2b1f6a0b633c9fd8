"""SearchJobs / SearchSteps / SearchTasks: every operator, nesting, sorting and paging."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_jobs_api import frames, job_template, make_queue, step, submit

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)

JOBS = [
    # name, priority, Count parameter, Label parameter, frames
    ("alpha render", 10, 9, "red", 3),
    ("beta comp", 50, 10, "green", 2),
    ("gamma render", 90, 100, "blue", 5),
    ("delta cache", 30, 2, "red", 1),
]


@pytest.fixture(scope="module")
def world(server_any: ServerProcess, deadline_any: Any) -> dict[str, Any]:
    """One queue holding the four jobs above (on each store); the last SUSPENDED, the first SUCCEEDED."""
    deadline = deadline_any
    farm_id = deadline.create_farm(displayName="search farm")["farmId"]
    queue_id = make_queue(deadline, farm_id)
    definitions = [{"name": "Count", "type": "INT"}, {"name": "Label", "type": "STRING", "default": "none"}]
    ids: dict[str, str] = {}
    created: dict[str, dt.datetime] = {}
    for name, priority, count, label, n in JOBS:
        template = job_template(
            step("Render", frames(n)), step("Encode", depends=["Render"]), parameterDefinitions=definitions
        )
        job_id = submit(
            deadline,
            farm_id,
            queue_id,
            template,
            nameOverride=name,
            parameters={"Count": {"int": str(count)}, "Label": {"string": label}},
        )
        deadline.update_job(farmId=farm_id, queueId=queue_id, jobId=job_id, priority=priority)
        ids[name] = job_id
        created[name] = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)["createdAt"]
    deadline.update_job(
        farmId=farm_id, queueId=queue_id, jobId=ids["alpha render"], targetTaskRunStatus="SUCCEEDED"
    )
    deadline.update_job(
        farmId=farm_id, queueId=queue_id, jobId=ids["delta cache"], targetTaskRunStatus="SUSPENDED"
    )
    return {"farm": farm_id, "queue": queue_id, "ids": ids, "created": created, "client": deadline}


@pytest.fixture
def deadline(world: dict[str, Any]) -> Any:
    """The client of the store this module's world lives on."""
    return world["client"]


def names(
    world: dict[str, Any], deadline: Any, *filters: dict[str, Any], operator: str = "AND", **kwargs: Any
) -> list[str]:
    by_id = {v: k for k, v in world["ids"].items()}
    request: dict[str, Any] = {
        "farmId": world["farm"],
        "queueIds": [world["queue"]],
        "itemOffset": 0,
        **kwargs,
    }
    if filters:
        request["filterExpressions"] = {"filters": list(filters), "operator": operator}
    out = deadline.search_jobs(**request)
    assert out["totalResults"] == len(out["jobs"])
    return [by_id[j["jobId"]] for j in out["jobs"]]


def refused(call: Any) -> str:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["Error"]["Code"] == "ValidationException"
    return str(info.value.response["Error"]["Message"])


def sf(name: str, operator: str, value: str) -> dict[str, Any]:
    return {"stringFilter": {"name": name, "operator": operator, "value": value}}


def test_string_filters(world: dict[str, Any], deadline: Any) -> None:
    # Given four jobs in different states, When filtered by status, Then exactly the matches come back
    assert names(world, deadline, sf("TASK_RUN_STATUS", "EQUAL", "SUCCEEDED")) == ["alpha render"]
    assert names(world, deadline, sf("TASK_RUN_STATUS", "NOT_EQUAL", "READY")) == [
        "alpha render",
        "delta cache",
    ]
    assert names(world, deadline, sf("NAME", "EQUAL", "beta comp")) == ["beta comp"]
    assert names(world, deadline, sf("PRIORITY", "GREATER_THAN", "30")) == ["beta comp", "gamma render"]
    assert names(world, deadline, sf("PRIORITY", "LESS_THAN_EQUAL_TO", "30")) == [
        "alpha render",
        "delta cache",
    ]


def test_string_list_filters(world: dict[str, Any], deadline: Any) -> None:
    any_of = {
        "stringListFilter": {
            "name": "TASK_RUN_STATUS",
            "operator": "ANY_EQUALS",
            "values": ["SUCCEEDED", "SUSPENDED"],
        }
    }
    none_of = {
        "stringListFilter": {
            "name": "TASK_RUN_STATUS",
            "operator": "ALL_NOT_EQUALS",
            "values": ["SUCCEEDED", "SUSPENDED"],
        }
    }
    assert names(world, deadline, any_of) == ["alpha render", "delta cache"]
    assert names(world, deadline, none_of) == ["beta comp", "gamma render"]


def test_date_time_filters(world: dict[str, Any], deadline: Any) -> None:
    # Given the creation time of the third job
    third = world["created"]["gamma render"]

    def dtf(name: str, operator: str, when: dt.datetime) -> dict[str, Any]:
        return {"dateTimeFilter": {"name": name, "operator": operator, "dateTime": when}}

    # When filtering on it with each comparison, Then the split is exact
    assert names(world, deadline, dtf("CREATED_AT", "GREATER_THAN_EQUAL_TO", third)) == [
        "gamma render",
        "delta cache",
    ]
    assert names(world, deadline, dtf("CREATED_AT", "GREATER_THAN", third)) == ["delta cache"]
    assert names(world, deadline, dtf("CREATED_AT", "LESS_THAN", third)) == ["alpha render", "beta comp"]
    assert names(world, deadline, dtf("CREATED_AT", "LESS_THAN_EQUAL_TO", third)) == [
        "alpha render",
        "beta comp",
        "gamma render",
    ]
    assert names(world, deadline, dtf("CREATED_AT", "EQUAL", third)) == ["gamma render"]
    # And only the finished jobs have an end time
    assert names(world, deadline, dtf("ENDED_AT", "GREATER_THAN", world["created"]["alpha render"])) == [
        "alpha render",
        "delta cache",
    ]


def test_parameter_filters_compare_numbers_as_numbers(world: dict[str, Any], deadline: Any) -> None:
    def pf(name: str, operator: str, value: str) -> dict[str, Any]:
        return {"parameterFilter": {"name": name, "operator": operator, "value": value}}

    assert names(world, deadline, pf("Count", "GREATER_THAN", "9")) == ["beta comp", "gamma render"]
    assert names(world, deadline, pf("Param.Count", "LESS_THAN", "10")) == ["alpha render", "delta cache"]
    assert names(world, deadline, pf("Count", "EQUAL", "100")) == ["gamma render"]
    assert names(world, deadline, pf("Label", "EQUAL", "red")) == ["alpha render", "delta cache"]
    assert names(world, deadline, pf("Label", "NOT_EQUAL", "red")) == ["beta comp", "gamma render"]
    assert names(
        world, deadline, pf("Count", "GREATER_THAN_EQUAL_TO", "10"), pf("Count", "LESS_THAN_EQUAL_TO", "10")
    ) == ["beta comp"]


def test_search_terms(world: dict[str, Any], deadline: Any) -> None:
    def term(text: str, match: str) -> dict[str, Any]:
        return {"searchTermFilter": {"searchTerm": text, "matchType": match}}

    assert names(world, deadline, term("RENDER", "CONTAINS")) == ["alpha render", "gamma render"]
    assert names(world, deadline, term("beta render", "CONTAINS")) == []
    assert names(world, deadline, term("beta render", "FUZZY_MATCH")) == [
        "alpha render",
        "beta comp",
        "gamma render",
    ]
    assert names(world, deadline, {"searchTermFilter": {"searchTerm": "cache"}}) == ["delta cache"]


def test_and_or_and_one_level_of_groups(world: dict[str, Any], deadline: Any) -> None:
    # Given (status READY AND (name contains alpha OR priority > 60)) in the first case
    either = {
        "groupFilter": {
            "operator": "OR",
            "filters": [
                {"searchTermFilter": {"searchTerm": "beta", "matchType": "CONTAINS"}},
                sf("PRIORITY", "GREATER_THAN", "60"),
            ],
        }
    }
    assert names(world, deadline, sf("TASK_RUN_STATUS", "EQUAL", "READY"), either) == [
        "beta comp",
        "gamma render",
    ]
    assert names(
        world,
        deadline,
        sf("NAME", "EQUAL", "alpha render"),
        sf("NAME", "EQUAL", "delta cache"),
        operator="OR",
    ) == ["alpha render", "delta cache"]
    both = {
        "groupFilter": {
            "operator": "AND",
            "filters": [sf("PRIORITY", "GREATER_THAN", "20"), sf("PRIORITY", "LESS_THAN", "60")],
        }
    }
    assert names(world, deadline, both, sf("NAME", "EQUAL", "alpha render"), operator="OR") == [
        "alpha render",
        "beta comp",
        "delta cache",
    ]
    # When a group holds another group, Then it is refused
    nested = {"groupFilter": {"operator": "AND", "filters": [both]}}
    assert "group" in refused(lambda: names(world, deadline, nested))


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (sf("COLOUR", "EQUAL", "x"), "COLOUR"),
        (sf("NAME", "GREATER_THAN", "x"), "GREATER_THAN"),
        ({"stringListFilter": {"name": "NAME", "operator": "EQUAL", "values": ["x"]}}, "EQUAL"),
        (
            {
                "dateTimeFilter": {
                    "name": "NAME",
                    "operator": "EQUAL",
                    "dateTime": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                }
            },
            "NAME",
        ),
        (
            {
                "dateTimeFilter": {
                    "name": "CREATED_AT",
                    "operator": "NOT_EQUAL",
                    "dateTime": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                }
            },
            "NOT_EQUAL",
        ),
        (sf("PRIORITY", "EQUAL", "high"), "number"),
    ],
    ids=[
        "unknown-field",
        "string-ordering",
        "list-operator",
        "date-on-string",
        "date-not-equal",
        "not-a-number",
    ],
)
def test_malformed_filters_are_validation_errors(
    world: dict[str, Any], deadline: Any, bad: dict[str, Any], fragment: str
) -> None:
    assert fragment in refused(lambda: names(world, deadline, bad))


def test_sorting(world: dict[str, Any], deadline: Any) -> None:
    def sort(*expressions: dict[str, Any]) -> list[str]:
        return names(world, deadline, sortExpressions=list(expressions))

    assert sort({"fieldSort": {"name": "PRIORITY", "sortOrder": "DESCENDING"}}) == [
        "gamma render",
        "beta comp",
        "delta cache",
        "alpha render",
    ]
    assert sort({"parameterSort": {"name": "Count", "sortOrder": "ASCENDING"}}) == [
        "delta cache",
        "alpha render",
        "beta comp",
        "gamma render",
    ]
    assert sort(
        {"parameterSort": {"name": "Label", "sortOrder": "ASCENDING"}},
        {"fieldSort": {"name": "NAME", "sortOrder": "DESCENDING"}},
    ) == ["gamma render", "beta comp", "delta cache", "alpha render"]
    assert sort({"fieldSort": {"name": "ENDED_AT", "sortOrder": "ASCENDING"}})[2:] == [
        "beta comp",
        "gamma render",
    ]
    # userJobsFirst by someone with no jobs keeps the creation order
    assert sort({"userJobsFirst": {"userIdentityId": "nobody"}}) == [name for name, *_ in JOBS]
    assert "COLOUR" in refused(lambda: sort({"fieldSort": {"name": "COLOUR", "sortOrder": "ASCENDING"}}))


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_paging_reports_the_total_at_every_offset(
    world: dict[str, Any], deadline: Any, page_size: int
) -> None:
    # Given the four jobs sorted by priority, When every offset is read with a small page
    order = ["alpha render", "delta cache", "beta comp", "gamma render"]
    by_id = {v: k for k, v in world["ids"].items()}
    for offset in range(len(order) + 1):
        out = deadline.search_jobs(
            farmId=world["farm"],
            queueIds=[world["queue"]],
            itemOffset=offset,
            pageSize=page_size,
            sortExpressions=[{"fieldSort": {"name": "PRIORITY", "sortOrder": "ASCENDING"}}],
        )
        # Then the total never changes, the page is the right slice and the next offset follows it
        assert out["totalResults"] == 4
        assert [by_id[j["jobId"]] for j in out["jobs"]] == order[offset : offset + page_size]
        expected_next = offset + page_size if offset + page_size < 4 else None
        assert out.get("nextItemOffset") == expected_next
    first = deadline.search_jobs(farmId=world["farm"], queueIds=[world["queue"]], itemOffset=0, pageSize=1)[
        "jobs"
    ][0]
    assert set(first["taskRunStatusCounts"]) >= {"READY", "SUCCEEDED", "NOT_COMPATIBLE"}
    assert first["queueId"] == world["queue"] and first["jobParameters"]["Count"] == {"int": "9"}


def test_search_steps_and_tasks(world: dict[str, Any], deadline: Any) -> None:
    farm, queue, ids = world["farm"], world["queue"], world["ids"]
    # Given the gamma job (5 render tasks, 1 encode task), When its steps are searched by name
    steps = deadline.search_steps(
        farmId=farm,
        queueIds=[queue],
        jobId=ids["gamma render"],
        itemOffset=0,
        filterExpressions={
            "filters": [{"searchTermFilter": {"searchTerm": "Encode", "matchType": "CONTAINS"}}],
            "operator": "AND",
        },
    )
    # Then one step matches, PENDING behind its dependency
    assert steps["totalResults"] == 1 and steps["steps"][0]["taskRunStatus"] == "PENDING"
    everywhere = deadline.search_steps(farmId=farm, queueIds=[queue], itemOffset=0)
    assert everywhere["totalResults"] == 8
    # When its tasks are searched by frame number, Then frames above 3 match, and are sorted by frame
    tasks = deadline.search_tasks(
        farmId=farm,
        queueIds=[queue],
        jobId=ids["gamma render"],
        itemOffset=0,
        filterExpressions={
            "filters": [{"parameterFilter": {"name": "Frame", "operator": "GREATER_THAN", "value": "3"}}],
            "operator": "AND",
        },
        sortExpressions=[{"parameterSort": {"name": "Frame", "sortOrder": "DESCENDING"}}],
    )
    assert tasks["totalResults"] == 2
    assert [t["parameters"]["Frame"]["int"] for t in tasks["tasks"]] == ["5", "4"]
    assert tasks["tasks"][0]["jobId"] == ids["gamma render"] and tasks["tasks"][0]["runStatus"] == "READY"
    ready = deadline.search_tasks(
        farmId=farm,
        queueIds=[queue],
        itemOffset=0,
        pageSize=100,
        filterExpressions={"filters": [sf("TASK_RUN_STATUS", "EQUAL", "READY")], "operator": "AND"},
    )
    assert ready["totalResults"] == 2 + 5
    # And steps have no parameters to filter on
    assert "parameters" in refused(
        lambda: deadline.search_steps(
            farmId=farm,
            queueIds=[queue],
            itemOffset=0,
            filterExpressions={
                "filters": [{"parameterFilter": {"name": "Frame", "operator": "EQUAL", "value": "1"}}],
                "operator": "AND",
            },
        )
    )
