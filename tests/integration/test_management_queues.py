"""Queues through a real boto3 client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from _management import insert_job
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def farm(deadline_any: Any) -> str:
    return str(deadline_any.create_farm(displayName="queues farm")["farmId"])


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_queue_round_trip_with_every_member(deadline_any: Any, farm: str) -> None:
    # Given a storage profile the queue may use
    profile = deadline_any.create_storage_profile(farmId=farm, displayName="linux", osFamily="LINUX")
    # When a queue is created with every member the model offers
    queue_id = deadline_any.create_queue(
        farmId=farm,
        displayName="Render",
        description="main queue",
        jobAttachmentSettings={"s3BucketName": "bucket", "rootPrefix": "farmhand"},
        jobRunAsUser={"runAs": "QUEUE_CONFIGURED_USER", "posix": {"user": "render", "group": "render"}},
        requiredFileSystemLocationNames=["Assets"],
        allowedStorageProfileIds=[profile["storageProfileId"]],
        tags={"team": "lighting"},
    )["queueId"]
    queue = deadline_any.get_queue(farmId=farm, queueId=queue_id)
    # Then it reads back in AWS form
    assert re.fullmatch(r"queue-[0-9a-f]{32}", queue_id)
    assert queue["displayName"] == "Render"
    assert queue["description"] == "main queue"
    assert queue["status"] == "IDLE"
    assert queue["defaultBudgetAction"] == "NONE"
    assert queue["jobAttachmentSettings"] == {"s3BucketName": "bucket", "rootPrefix": "farmhand"}
    assert queue["jobRunAsUser"]["posix"] == {"user": "render", "group": "render"}
    assert queue["requiredFileSystemLocationNames"] == ["Assets"]
    assert queue["allowedStorageProfileIds"] == [profile["storageProfileId"]]
    assert queue["createdAt"].tzinfo is not None
    assert queue["createdBy"].startswith("arn:aws:iam::")
    assert "updatedAt" not in queue
    assert "roleArn" not in queue


def test_update_queue_adds_and_removes_list_members(deadline_any: Any, farm: str) -> None:
    # Given a queue that requires one location
    queue_id = deadline_any.create_queue(
        farmId=farm, displayName="q", requiredFileSystemLocationNames=["A", "B"]
    )["queueId"]
    # When one is removed, another added and the name changed
    deadline_any.update_queue(
        farmId=farm,
        queueId=queue_id,
        displayName="renamed",
        requiredFileSystemLocationNamesToAdd=["C"],
        requiredFileSystemLocationNamesToRemove=["A"],
        defaultBudgetAction="STOP_SCHEDULING_AND_COMPLETE_TASKS",
    )
    queue = deadline_any.get_queue(farmId=farm, queueId=queue_id)
    # Then the lists and scalars reflect the update, stamped with who and when
    assert queue["requiredFileSystemLocationNames"] == ["B", "C"]
    assert queue["displayName"] == "renamed"
    assert queue["defaultBudgetAction"] == "STOP_SCHEDULING_AND_COMPLETE_TASKS"
    assert queue["updatedAt"] >= queue["createdAt"]
    assert queue["updatedBy"] == queue["createdBy"]


def test_unknown_storage_profile_on_a_queue_is_not_found(deadline_any: Any, farm: str) -> None:
    with pytest.raises(ClientError) as info:
        deadline_any.create_queue(farmId=farm, displayName="q", allowedStorageProfileIds=["sp-" + "0" * 32])
    assert _code(info) == "ResourceNotFoundException"


def test_list_queues_pages_and_filters(deadline_any: Any, server_any: ServerProcess, farm: str) -> None:
    # Given five queues, one of them with a job that has ready tasks
    queue_ids = [deadline_any.create_queue(farmId=farm, displayName=f"q{i}")["queueId"] for i in range(5)]
    insert_job(server_any, farm, queue_ids[2], status="READY", ready=3)
    # When they are listed two at a time
    seen: list[str] = []
    token: str | None = None
    while True:
        page = deadline_any.list_queues(farmId=farm, maxResults=2, **({"nextToken": token} if token else {}))
        assert len(page["queues"]) <= 2
        seen += [q["queueId"] for q in page["queues"]]
        token = page.get("nextToken")
        if not token:
            break
    # Then every queue appears once, in creation order
    assert seen == queue_ids
    # And the status filter tells scheduling queues from idle ones
    scheduling = deadline_any.list_queues(farmId=farm, status="SCHEDULING")["queues"]
    assert [q["queueId"] for q in scheduling] == [queue_ids[2]]
    assert scheduling[0]["status"] == "SCHEDULING"
    idle = deadline_any.list_queues(farmId=farm, status="IDLE")["queues"]
    assert {q["queueId"] for q in idle} == set(queue_ids) - {queue_ids[2]}
    assert deadline_any.get_queue(farmId=farm, queueId=queue_ids[2])["status"] == "SCHEDULING"
    assert deadline_any.list_queues(farmId=farm, status="SCHEDULING_BLOCKED")["queues"] == []
    # And the principalId filter keeps only queues that principal created (none for a stranger)
    stranger = "0123456789-01234567-89ab-cdef-0123-456789abcdef"
    assert deadline_any.list_queues(farmId=farm, principalId=stranger)["queues"] == []


def test_delete_queue_conflicts_while_jobs_are_unfinished(
    deadline_any: Any, server_any: ServerProcess, farm: str
) -> None:
    # Given a queue with a running job and a queue environment
    queue_id = deadline_any.create_queue(farmId=farm, displayName="busy")["queueId"]
    job_id = insert_job(server_any, farm, queue_id, status="RUNNING")
    # When it is deleted
    with pytest.raises(ClientError) as info:
        deadline_any.delete_queue(farmId=farm, queueId=queue_id)
    # Then the service says it is in use
    assert _code(info) == "ConflictException"
    assert info.value.response["reason"] == "RESOURCE_IN_USE"
    assert job_id in info.value.response["Error"]["Message"]
    # And a queue whose jobs have all finished can be deleted
    done_id = deadline_any.create_queue(farmId=farm, displayName="done")["queueId"]
    insert_job(server_any, farm, done_id, status="SUCCEEDED")
    deadline_any.delete_queue(farmId=farm, queueId=done_id)
    with pytest.raises(ClientError) as gone:
        deadline_any.get_queue(farmId=farm, queueId=done_id)
    assert _code(gone) == "ResourceNotFoundException"
    assert gone.value.response["resourceId"] == done_id
    # And so can a queue whose job is suspended: SUSPENDED is as finished as it is for `job wait`
    paused_id = deadline_any.create_queue(farmId=farm, displayName="paused")["queueId"]
    insert_job(server_any, farm, paused_id, status="SUSPENDED")
    deadline_any.delete_queue(farmId=farm, queueId=paused_id)


def test_delete_farm_with_a_queue_conflicts(deadline_any: Any, farm: str) -> None:
    deadline_any.create_queue(farmId=farm, displayName="q")
    with pytest.raises(ClientError) as info:
        deadline_any.delete_farm(farmId=farm)
    assert _code(info) == "ConflictException"


def test_queue_of_another_farm_is_not_found(deadline_any: Any, farm: str) -> None:
    other = deadline_any.create_farm(displayName="other")["farmId"]
    queue_id = deadline_any.create_queue(farmId=farm, displayName="q")["queueId"]
    with pytest.raises(ClientError) as info:
        deadline_any.get_queue(farmId=other, queueId=queue_id)
    assert _code(info) == "ResourceNotFoundException"
    assert info.value.response["resourceType"] == "queue"


def test_queue_configured_user_without_a_user_is_invalid(deadline_any: Any, farm: str) -> None:
    with pytest.raises(ClientError) as info:
        deadline_any.create_queue(
            farmId=farm, displayName="q", jobRunAsUser={"runAs": "QUEUE_CONFIGURED_USER"}
        )
    assert _code(info) == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "jobRunAsUser"


def test_create_queue_with_a_client_token_is_idempotent(deadline_any: Any, farm: str) -> None:
    first = deadline_any.create_queue(farmId=farm, displayName="once", clientToken="token-1")
    again = deadline_any.create_queue(farmId=farm, displayName="once", clientToken="token-1")
    assert again["queueId"] == first["queueId"]
    names = [q["displayName"] for q in deadline_any.list_queues(farmId=farm)["queues"]]
    assert names.count("once") == 1


def test_a_submitted_job_makes_its_queue_scheduling_until_it_is_canceled(
    deadline_any: Any, farm: str
) -> None:
    # Given a queue with a job submitted through CreateJob
    queue_id = deadline_any.create_queue(farmId=farm, displayName="jobs")["queueId"]
    template = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "queue status job",
        "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "echo"}}}}],
    }
    job_id = deadline_any.create_job(
        farmId=farm, queueId=queue_id, template=json.dumps(template), templateType="JSON", priority=50
    )["jobId"]
    deadline_any.get_waiter("job_create_complete").wait(
        farmId=farm, queueId=queue_id, jobId=job_id, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    # Then the queue has schedulable work and cannot be deleted
    assert deadline_any.get_queue(farmId=farm, queueId=queue_id)["status"] == "SCHEDULING"
    deadline_any.get_waiter("queue_scheduling").wait(farmId=farm, queueId=queue_id)
    with pytest.raises(ClientError) as info:
        deadline_any.delete_queue(farmId=farm, queueId=queue_id)
    assert _code(info) == "ConflictException"
    # When the job is canceled
    deadline_any.update_job(farmId=farm, queueId=queue_id, jobId=job_id, targetTaskRunStatus="CANCELED")
    # Then the queue is idle again and can be deleted
    assert deadline_any.get_queue(farmId=farm, queueId=queue_id)["status"] == "IDLE"
    deadline_any.delete_queue(farmId=farm, queueId=queue_id)
