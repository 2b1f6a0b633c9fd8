"""CreateJob, reads and updates of jobs, steps and tasks through a real boto3 client."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)

STATUSES = {
    "PENDING",
    "READY",
    "ASSIGNED",
    "STARTING",
    "SCHEDULED",
    "INTERRUPTING",
    "RUNNING",
    "SUSPENDED",
    "CANCELED",
    "FAILED",
    "SUCCEEDED",
    "NOT_COMPATIBLE",
}


def make_queue(deadline: Any, farm_id: str) -> str:
    """A queue whose jobs may carry attachments (their manifests' objects live in its bucket)."""
    settings = {"s3BucketName": "jobs-bucket", "rootPrefix": "DeadlineCloud"}
    return str(
        deadline.create_queue(farmId=farm_id, displayName="q", jobAttachmentSettings=settings)["queueId"]
    )


def make_queue_environment(
    deadline: Any, farm_id: str, queue_id: str, template: dict[str, Any], priority: int
) -> str:
    created = deadline.create_queue_environment(
        farmId=farm_id,
        queueId=queue_id,
        priority=priority,
        templateType="JSON",
        template=json.dumps(template),
    )
    return str(created["queueEnvironmentId"])


def step(name: str, space: dict[str, Any] | None = None, depends: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "script": {"actions": {"onRun": {"command": "echo", "args": [name]}}},
    }
    if space is not None:
        out["parameterSpace"] = space
    if depends:
        out["dependencies"] = [{"dependsOn": d} for d in depends]
    return out


def frames(n: int, name: str = "Frame") -> dict[str, Any]:
    return {"taskParameterDefinitions": [{"name": name, "type": "INT", "range": f"1-{n}"}]}


def job_template(*steps: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {"specificationVersion": "jobtemplate-2023-09", "name": "Test job", "steps": list(steps), **extra}
    )


def submit(deadline: Any, farm_id: str, queue_id: str, template: str, **kwargs: Any) -> str:
    return str(
        deadline.create_job(
            farmId=farm_id, queueId=queue_id, template=template, templateType="JSON", priority=50, **kwargs
        )["jobId"]
    )


def wait_created(
    deadline: Any, farm_id: str, queue_id: str, job_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline_at = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        if job["lifecycleStatus"] != "CREATE_IN_PROGRESS" or time.monotonic() > deadline_at:
            return job
        time.sleep(0.1)


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.fixture
def farm_server(server_any: ServerProcess) -> ServerProcess:
    """Each test here runs once on SQLite and once on PostgreSQL."""
    return server_any


@pytest.fixture
def deadline(deadline_any: Any) -> Any:
    return deadline_any


@pytest.fixture
def queue_id(deadline: Any, farm_id: str) -> str:
    return make_queue(deadline, farm_id)


def test_create_job_then_read_job_steps_and_tasks(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given a two-step template where the movie waits for the frames
    template = job_template(
        step(
            "Render",
            {
                "taskParameterDefinitions": [
                    {"name": "Frame", "type": "INT", "range": "1-3"},
                    {"name": "Layer", "type": "STRING", "range": ["bg", "fg"]},
                ]
            },
        ),
        step("Movie", depends=["Render"]),
        parameterDefinitions=[
            {"name": "Quality", "type": "INT", "default": 5},
            {"name": "Out", "type": "PATH"},
        ],
    )
    # When it is submitted with one parameter and attachments
    attachments = {"manifests": [{"rootPath": "/in", "rootPathFormat": "posix"}], "fileSystem": "COPIED"}
    job_id = submit(
        deadline,
        farm_id,
        queue_id,
        template,
        parameters={"Out": {"path": "/tmp/out"}},
        attachments=attachments,
        maxRetriesPerTask=3,
        maxFailedTasksCount=7,
    )
    # Then the job is complete with every status counted, and its submission as given
    job = wait_created(deadline, farm_id, queue_id, job_id)
    assert job["lifecycleStatus"] == "CREATE_COMPLETE"
    assert job["name"] == "Test job"
    assert job["taskRunStatus"] == "READY"
    assert set(job["taskRunStatusCounts"]) == STATUSES
    assert job["taskRunStatusCounts"]["READY"] == 6
    assert job["taskRunStatusCounts"]["PENDING"] == 1
    assert job["parameters"] == {"Out": {"path": "/tmp/out"}}
    assert job["attachments"] == attachments
    assert (job["maxRetriesPerTask"], job["maxFailedTasksCount"], job["priority"]) == (3, 7, 50)
    assert "maxWorkerCount" not in job
    # And the steps are listed in template order with their dependency state
    steps = deadline.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"]
    assert [s["name"] for s in steps] == ["Render", "Movie"]
    render, movie = steps
    assert render["taskRunStatus"] == "READY" and movie["taskRunStatus"] == "PENDING"
    assert movie["dependencyCounts"] == {
        "dependenciesResolved": 0,
        "dependenciesUnresolved": 1,
        "consumersResolved": 0,
        "consumersUnresolved": 0,
    }
    got = deadline.get_step(farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=render["stepId"])
    assert got["parameterSpace"] == {
        "parameters": [{"name": "Frame", "type": "INT"}, {"name": "Layer", "type": "STRING"}]
    }
    deps = deadline.list_step_dependencies(
        farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=movie["stepId"]
    )
    assert deps["dependencies"] == [{"stepId": render["stepId"], "status": "UNRESOLVED"}]
    consumers = deadline.list_step_consumers(
        farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=render["stepId"]
    )
    assert consumers["consumers"] == [{"stepId": movie["stepId"], "status": "UNRESOLVED"}]
    # And the tasks carry their parameters in iteration order (right-most fastest)
    tasks = deadline.list_tasks(farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=render["stepId"])[
        "tasks"
    ]
    assert [t["parameters"]["Layer"]["string"] + t["parameters"]["Frame"]["int"] for t in tasks] == [
        "bg1",
        "fg1",
        "bg2",
        "fg2",
        "bg3",
        "fg3",
    ]
    assert tasks[0]["taskId"] == f"task-{render['stepId'][5:]}-0"
    task = deadline.get_task(
        farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=render["stepId"], taskId=tasks[1]["taskId"]
    )
    assert task["runStatus"] == "READY" and task["failureRetryCount"] == 0
    assert task["createdBy"] == job["createdBy"]


def test_paging_lists_every_task_once(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given a job of 25 tasks
    job_id = submit(deadline, farm_id, queue_id, job_template(step("Render", frames(25))))
    step_id = deadline.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"][0]["stepId"]
    # When the tasks are listed 10 at a time
    paginator = deadline.get_paginator("list_tasks")
    pages = list(
        paginator.paginate(
            farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step_id, PaginationConfig={"PageSize": 10}
        )
    )
    # Then three pages hold every task once, in order
    frames_seen = [t["parameters"]["Frame"]["int"] for p in pages for t in p["tasks"]]
    assert len(pages) == 3
    assert frames_seen == [str(i) for i in range(1, 26)]


def test_batch_gets_answer_found_items_and_errors(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given one job
    job_id = submit(deadline, farm_id, queue_id, job_template(step("Render", frames(2))))
    missing = "job-" + "0" * 32
    # When it and a missing job are fetched together
    out = deadline.batch_get_job(
        identifiers=[
            {"farmId": farm_id, "queueId": queue_id, "jobId": job_id},
            {"farmId": farm_id, "queueId": queue_id, "jobId": missing},
        ]
    )
    # Then the found one is returned with its ids and the missing one is an error
    assert [j["jobId"] for j in out["jobs"]] == [job_id]
    assert out["errors"][0]["jobId"] == missing and out["errors"][0]["code"] == "ResourceNotFoundException"
    step_id = deadline.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"][0]["stepId"]
    steps = deadline.batch_get_step(
        identifiers=[{"farmId": farm_id, "queueId": queue_id, "jobId": job_id, "stepId": step_id}]
    )
    assert steps["steps"][0]["name"] == "Render"
    task_id = f"task-{step_id[5:]}-1"
    tasks = deadline.batch_get_task(
        identifiers=[
            {"farmId": farm_id, "queueId": queue_id, "jobId": job_id, "stepId": step_id, "taskId": task_id}
        ]
    )
    assert tasks["tasks"][0]["parameters"] == {"Frame": {"int": "2"}}


def test_queue_environment_parameters_are_merged_and_environments_ordered(
    farm_server: ServerProcess, deadline: Any, farm_id: str, queue_id: str
) -> None:
    # Given two queue environments, one defining a parameter with a default
    def env(name: str, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "specificationVersion": "environment-2023-09",
            "environment": {"name": name, "variables": {"X": "1"}},
        }
        if params:
            doc["parameterDefinitions"] = params
        return doc

    late = make_queue_environment(deadline, farm_id, queue_id, env("Late"), priority=50)
    early = make_queue_environment(
        deadline,
        farm_id,
        queue_id,
        env("Conda", [{"name": "CondaPackages", "type": "STRING", "default": "blender"}]),
        priority=10,
    )
    template = job_template(step("Render"), jobEnvironments=[{"name": "JobEnv", "variables": {"Y": "2"}}])
    # When a job is submitted with a value for the queue environment's parameter
    job_id = submit(deadline, farm_id, queue_id, template, parameters={"CondaPackages": {"string": "maya"}})
    # Then the job stores the resolved parameters and the environments in entry order
    from farmhand.server.store import jobs

    store = farm_server.open_store()
    with store.read() as conn:
        row = conn.execute(jobs.select().where(jobs.c.job_id == job_id)).one()
    store.dispose()
    assert row.resolved_parameters == {"CondaPackages": {"string": "maya"}}
    assert [e["environmentId"] for e in row.environments] == [
        f"JOB:{job_id}:{early}",
        f"JOB:{job_id}:{late}",
        f"JOB:{job_id}:JobEnv",
    ]
    assert [e["schemaVersion"] for e in row.environments] == ["environment-2023-09"] * 2 + [
        "jobtemplate-2023-09"
    ]
    assert row.environments[0]["template"]["name"] == "Conda"


def test_a_job_enters_same_priority_environments_in_the_order_the_queue_lists_them(
    farm_server: ServerProcess, deadline: Any, farm_id: str, queue_id: str
) -> None:
    # Given five queue environments of one priority, created at the same instant
    env_ids = [
        make_queue_environment(
            deadline,
            farm_id,
            queue_id,
            {
                "specificationVersion": "environment-2023-09",
                "environment": {"name": f"E{n}", "variables": {"X": "1"}},
            },
            priority=5,
        )
        for n in range(5)
    ]
    from farmhand.server.store import jobs, resources

    store = farm_server.open_store()
    with store.write() as conn:
        conn.execute(
            resources.update()
            .where(resources.c.resource_id.in_(env_ids))
            .values(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        )
    # When a job is submitted
    job_id = submit(deadline, farm_id, queue_id, job_template(step("Render")))
    # Then it enters them in the order ListQueueEnvironments gives
    listed = deadline.list_queue_environments(farmId=farm_id, queueId=queue_id)["environments"]
    with store.read() as conn:
        row = conn.execute(jobs.select().where(jobs.c.job_id == job_id)).one()
    store.dispose()
    assert [e["environmentId"] for e in row.environments] == [
        f"JOB:{job_id}:{e['queueEnvironmentId']}" for e in listed
    ]
    assert sorted(e["queueEnvironmentId"] for e in listed) == sorted(env_ids)


@pytest.mark.parametrize(
    ("template", "kwargs", "fragment"),
    [
        (
            job_template(step("R"), parameterDefinitions=[{"name": "N", "type": "INT"}]),
            {"parameters": {"N": {"string": "5"}}},
            "parameters.N",
        ),
        (job_template(step("R")), {"parameters": {"Nope": {"int": "5"}}}, "Nope"),
        (job_template(step("R"), parameterDefinitions=[{"name": "N", "type": "INT"}]), {}, "N"),
        (job_template(step("A", depends=["B"]), step("B", depends=["A"])), {}, "ircular"),
        (
            job_template(
                step(
                    "R",
                    {"taskParameterDefinitions": [{"name": "F", "type": "INT", "range": list(range(1025))}]},
                )
            ),
            {},
            "range",
        ),
        ("{not json", {}, "template"),
        (job_template(step("R"), extensions=["NOT_AN_EXTENSION"]), {}, "NOT_AN_EXTENSION"),
        (job_template(step("R")), {"maxWorkerCount": 0}, "maxWorkerCount"),
    ],
    ids=[
        "wrong-type",
        "unknown-parameter",
        "missing-required",
        "circular",
        "range-list-too-long",
        "malformed",
        "unknown-extension",
        "zero-workers",
    ],
)
def test_bad_submissions_are_validation_errors(
    deadline: Any, farm_id: str, queue_id: str, template: str, kwargs: dict[str, Any], fragment: str
) -> None:
    # Given a bad submission, When it is sent, Then it is a ValidationException naming the problem
    with pytest.raises(ClientError) as info:
        submit(deadline, farm_id, queue_id, template, **kwargs)
    code, message = error_of(info)
    assert code == "ValidationException"
    assert fragment in message


def test_template_over_the_size_limit_is_refused(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given a template of more than 1,000,000 characters
    template = job_template(step("R"), description="x" * 1_000_001)
    # When it is submitted, Then the model's limit refuses it
    with pytest.raises(ClientError) as info:
        submit(deadline, farm_id, queue_id, template)
    assert error_of(info)[0] == "ValidationException"


def test_unknown_queue_is_not_found(deadline: Any, farm_id: str) -> None:
    with pytest.raises(ClientError) as info:
        submit(deadline, farm_id, "queue-" + "0" * 32, job_template(step("R")))
    assert error_of(info)[0] == "ResourceNotFoundException"


def test_source_job_and_overrides(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given a job with a parameter
    template = job_template(
        step("R", frames(2)), parameterDefinitions=[{"name": "N", "type": "INT", "default": 1}]
    )
    source = submit(deadline, farm_id, queue_id, template, parameters={"N": {"int": "7"}})
    # When a new job copies it with a new name and description
    copy = str(
        deadline.create_job(
            farmId=farm_id,
            queueId=queue_id,
            priority=10,
            sourceJobId=source,
            nameOverride="Copy",
            descriptionOverride="again",
        )["jobId"]
    )
    # Then it has the source's template and parameters under the new name
    job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=copy)
    assert (job["name"], job["description"], job["sourceJobId"]) == ("Copy", "again", source)
    assert job["parameters"] == {"N": {"int": "7"}}
    assert job["taskRunStatusCounts"]["READY"] == 2


def test_suspended_submission_and_update_flow(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given a job submitted SUSPENDED
    job_id = submit(
        deadline, farm_id, queue_id, job_template(step("R", frames(3))), targetTaskRunStatus="SUSPENDED"
    )
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    assert deadline.get_job(**ids)["taskRunStatus"] == "SUSPENDED"
    # When it is resumed, reprioritised and renamed
    deadline.update_job(**ids, targetTaskRunStatus="READY", priority=90, name="Renamed", maxWorkerCount=2)
    # Then its tasks are READY and the fields changed
    job = deadline.get_job(**ids)
    assert (job["taskRunStatus"], job["priority"], job["name"], job["maxWorkerCount"]) == (
        "READY",
        90,
        "Renamed",
        2,
    )
    assert job["lifecycleStatus"] == "UPDATE_SUCCEEDED" and job["updatedBy"]
    # When one task is canceled and then the step is marked succeeded
    step_id = deadline.list_steps(**ids)["steps"][0]["stepId"]
    task_id = f"task-{step_id[5:]}-0"
    deadline.update_task(**ids, stepId=step_id, taskId=task_id, targetRunStatus="CANCELED")
    assert deadline.get_task(**ids, stepId=step_id, taskId=task_id)["runStatus"] == "CANCELED"
    assert deadline.get_job(**ids)["taskRunStatusCounts"]["CANCELED"] == 1
    deadline.update_step(**ids, stepId=step_id, targetTaskRunStatus="SUCCEEDED")
    # Then the job is SUCCEEDED and ended
    job = deadline.get_job(**ids)
    assert job["taskRunStatus"] == "SUCCEEDED" and job["taskRunStatusCounts"]["SUCCEEDED"] == 3
    assert "endedAt" in job
    # When everything is requeued, Then the job is READY again with no end time
    deadline.batch_update_task(
        tasks=[{**ids, "stepId": step_id, "taskId": task_id, "targetRunStatus": "PENDING"}]
    )
    assert deadline.get_job(**ids)["taskRunStatusCounts"]["READY"] == 1
    deadline.update_job(**ids, targetTaskRunStatus="PENDING")
    job = deadline.get_job(**ids)
    assert job["taskRunStatus"] == "READY" and "endedAt" not in job


def test_archived_job_is_read_only(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given an archived job
    job_id = submit(deadline, farm_id, queue_id, job_template(step("R", frames(2))))
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    deadline.update_job(**ids, lifecycleStatus="ARCHIVED")
    job = deadline.get_job(**ids)
    assert job["lifecycleStatus"] == "ARCHIVED" and job["taskRunStatus"] == "CANCELED"
    # When it, its step or its task is updated, Then each is a ConflictException
    step_id = deadline.list_steps(**ids)["steps"][0]["stepId"]
    for call in (
        lambda: deadline.update_job(**ids, priority=1),
        lambda: deadline.update_step(**ids, stepId=step_id, targetTaskRunStatus="READY"),
        lambda: deadline.update_task(
            **ids, stepId=step_id, taskId=f"task-{step_id[5:]}-0", targetRunStatus="READY"
        ),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info)[0] == "ConflictException"
    # And the batch form reports it per item
    out = deadline.batch_update_job(jobs=[{**ids, "priority": 3}])
    assert out["errors"][0]["code"] == "ConflictException"


def test_list_jobs_and_parameter_definitions(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given two jobs in a queue, one with parameter definitions
    definitions = [
        {"name": "A", "type": "INT", "default": 1},
        {"name": "B", "type": "STRING", "default": "x"},
    ]
    first = submit(deadline, farm_id, queue_id, job_template(step("R"), parameterDefinitions=definitions))
    second = submit(deadline, farm_id, queue_id, job_template(step("R")))
    # When the queue's jobs are listed one per page
    pages = deadline.get_paginator("list_jobs").paginate(
        farmId=farm_id, queueId=queue_id, PaginationConfig={"PageSize": 1}
    )
    listed = [j["jobId"] for p in pages for j in p["jobs"]]
    # Then both appear in submission order
    assert listed == [first, second]
    # And the first job's parameter definitions are listed as the template wrote them
    out = deadline.list_job_parameter_definitions(farmId=farm_id, queueId=queue_id, jobId=first)
    assert out["jobParameterDefinitions"] == definitions


def test_large_job_is_written_in_the_background(deadline: Any, farm_id: str, queue_id: str) -> None:
    # Given a job of 60,000 tasks (above the inline limit)
    job_id = submit(deadline, farm_id, queue_id, job_template(step("R", frames(60_000))))
    # When it is read until creation ends
    job = wait_created(deadline, farm_id, queue_id, job_id)
    # Then every task is there and counted
    assert job["lifecycleStatus"] == "CREATE_COMPLETE"
    assert job["taskRunStatusCounts"]["READY"] == 60_000
    step_id = deadline.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"][0]["stepId"]
    last = deadline.get_task(
        farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step_id, taskId=f"task-{step_id[5:]}-59999"
    )
    assert last["parameters"] == {"Frame": {"int": "60000"}}


def test_copy_job_template_to_a_bucket_the_farm_lacks_is_invalid(
    deadline: Any, farm_id: str, queue_id: str
) -> None:
    # Given a job, When its template is copied to a bucket no store of the farm holds
    job_id = submit(deadline, farm_id, queue_id, job_template(step("R")))
    with pytest.raises(ClientError) as info:
        deadline.copy_job_template(
            farmId=farm_id,
            queueId=queue_id,
            jobId=job_id,
            targetS3Location={"bucketName": "b", "key": "k.json"},
        )
    # Then the answer says so plainly, naming the bucket
    code, message = error_of(info)
    assert (
        code == "ValidationException" and "targetS3Location.bucketName" in message and "bucket b" in message
    )


def test_storage_profile_must_be_allowed_by_the_queue(deadline: Any, farm_id: str) -> None:
    # Given a queue allowing one storage profile
    profile = deadline.create_storage_profile(farmId=farm_id, displayName="linux", osFamily="LINUX")[
        "storageProfileId"
    ]
    other = deadline.create_storage_profile(farmId=farm_id, displayName="other", osFamily="LINUX")[
        "storageProfileId"
    ]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="sp", allowedStorageProfileIds=[profile])[
        "queueId"
    ]
    # When jobs name the allowed and another profile, Then only the allowed one is accepted and kept
    job_id = submit(deadline, farm_id, queue_id, job_template(step("R")), storageProfileId=profile)
    assert deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)["storageProfileId"] == profile
    with pytest.raises(ClientError) as info:
        submit(deadline, farm_id, queue_id, job_template(step("R")), storageProfileId=other)
    assert error_of(info)[0] == "ValidationException" and "storageProfileId" in error_of(info)[1]


def test_client_token_replays_create_job_and_principal_filter(
    deadline: Any, farm_id: str, queue_id: str
) -> None:
    # Given a CreateJob sent twice with one client token (an SDK retry)
    template = job_template(step("R", frames(3)))
    first = deadline.create_job(
        farmId=farm_id,
        queueId=queue_id,
        template=template,
        templateType="JSON",
        priority=50,
        clientToken="retry-1",
    )["jobId"]
    again = deadline.create_job(
        farmId=farm_id,
        queueId=queue_id,
        template=template,
        templateType="JSON",
        priority=50,
        clientToken="retry-1",
    )["jobId"]
    # Then one job exists
    assert again == first
    listed = [j["jobId"] for j in deadline.list_jobs(farmId=farm_id, queueId=queue_id)["jobs"]]
    assert listed.count(first) == 1
    # And listing by another principal finds none of the caller's jobs
    nobody = "00000000-0000-0000-0000-000000000000"
    assert deadline.list_jobs(farmId=farm_id, queueId=queue_id, principalId=nobody)["jobs"] == []
