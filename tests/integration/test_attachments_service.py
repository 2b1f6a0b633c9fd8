"""Job attachments on the service side: queue settings, queue credentials, entities, sessions, profiles.

Real server, real boto3 clients; workers are synthetic boto3 clients driving the worker protocol.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

import pytest
from _synthetic_workers import (
    SyntheticWorker,
    credentials_session,
    drive,
    job_status,
    job_template,
    step,
    submit,
)
from botocore.exceptions import ClientError

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)

SETTINGS = {"s3BucketName": "_farmhand-test", "rootPrefix": "DeadlineCloud"}
LINUX = {
    "vCpuCount": {"min": 1, "max": 16},
    "memoryMiB": {"min": 1024},
    "osFamily": "LINUX",
    "cpuArchitectureType": "x86_64",
}


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def attachment_farm(deadline: Any, **queue: Any) -> tuple[str, str, str]:
    """A farm with a queue that has job attachment settings and an associated Linux fleet."""
    farm_id = deadline.create_farm(displayName="attachments")["farmId"]
    fleet_config = queue.pop("fleet_config", {})
    queue_id = deadline.create_queue(
        farmId=farm_id, displayName="attachments", jobAttachmentSettings=SETTINGS, **queue
    )["queueId"]
    fleet_id = deadline.create_fleet(
        farmId=farm_id,
        displayName="fleet",
        roleArn="arn:aws:iam::123456789012:role/fleet",
        maxWorkerCount=4,
        configuration={
            "customerManaged": {"mode": "NO_SCALING", "workerCapabilities": LINUX, **fleet_config}
        },
    )["fleetId"]
    deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    return farm_id, queue_id, fleet_id


def stored_scope(server: ServerProcess, access_key_id: str) -> dict[str, Any]:
    """The scope the farm recorded with a key: what its S3 endpoint authorises against."""
    import json

    with sqlite3.connect(server.data_dir / "farmhand.db") as db:
        row = db.execute("SELECT scope FROM access_keys WHERE access_key_id = ?", (access_key_id,)).fetchone()
    return dict(json.loads(row[0]))


# -- queue settings ---------------------------------------------------------------------------------


def test_queue_settings_are_exactly_bucket_and_prefix_and_absent_when_unset(deadline: Any) -> None:
    farm_id = deadline.create_farm(displayName="settings")["farmId"]
    # Given a queue with settings and one without
    with_settings = deadline.create_queue(farmId=farm_id, displayName="a", jobAttachmentSettings=SETTINGS)
    without = deadline.create_queue(farmId=farm_id, displayName="b")
    # Then GetQueue returns exactly the two members, or no member at all (the CLI tests presence)
    got = deadline.get_queue(farmId=farm_id, queueId=with_settings["queueId"])
    assert got["jobAttachmentSettings"] == SETTINGS
    assert "jobAttachmentSettings" not in deadline.get_queue(farmId=farm_id, queueId=without["queueId"])
    # And UpdateQueue gives a queue settings later
    deadline.update_queue(
        farmId=farm_id,
        queueId=without["queueId"],
        jobAttachmentSettings={"s3BucketName": "other", "rootPrefix": "a/b"},
    )
    got = deadline.get_queue(farmId=farm_id, queueId=without["queueId"])
    assert got["jobAttachmentSettings"] == {"s3BucketName": "other", "rootPrefix": "a/b"}


def test_settings_no_s3_client_could_use_are_invalid(deadline: Any) -> None:
    farm_id = deadline.create_farm(displayName="bad prefix")["farmId"]
    for prefix in ("../up", "a b", "x" * 64, "/abs", "trailing/", "a//b"):
        with pytest.raises(ClientError) as info:
            deadline.create_queue(
                farmId=farm_id,
                displayName="q",
                jobAttachmentSettings={"s3BucketName": "bucket", "rootPrefix": prefix},
            )
        assert _code(info) == "ValidationException"
        assert "rootPrefix" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        deadline.create_queue(
            farmId=farm_id,
            displayName="q",
            jobAttachmentSettings={"s3BucketName": "no/slash", "rootPrefix": "p"},
        )
    assert "s3BucketName" in info.value.response["Error"]["Message"]


# -- queue credentials ------------------------------------------------------------------------------


def test_queue_credentials_last_an_hour_and_are_scoped_to_the_queue_prefix(
    server: ServerProcess, deadline: Any
) -> None:
    farm_id, queue_id, _ = attachment_farm(deadline)
    user = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    read = deadline.assume_queue_role_for_read(farmId=farm_id, queueId=queue_id)["credentials"]
    for credentials, access in ((user, "readwrite"), (read, "read")):
        # Then they last at least an hour (botocore refreshes 15 minutes ahead)
        assert credentials["expiration"] - dt.datetime.now(dt.UTC) >= dt.timedelta(hours=1)
        # And STS answers for them with the farm's account, as the queue role
        identity = server.client("sts", session=credentials_session(credentials)).get_caller_identity()
        assert identity["Account"] == server.admin.account_id
        assert f"farmhand-queue-{queue_id}" in identity["Arn"]
        # And the object-store entry they carry is the queue's bucket, under "<rootPrefix>/"
        scope = stored_scope(server, credentials["accessKeyId"])
        assert scope["s3"] == {
            "bucket": SETTINGS["s3BucketName"],
            "prefix": "DeadlineCloud/",
            "access": access,
        }
    # And read credentials cannot change the queue
    reader = server.client("deadline", session=credentials_session(read))
    with pytest.raises(ClientError) as info:
        reader.update_queue(farmId=farm_id, queueId=queue_id, description="no")
    assert _code(info) == "AccessDeniedException"


def test_queue_credentials_of_a_queue_without_attachments_reach_no_bucket(
    server: ServerProcess, deadline: Any
) -> None:
    farm_id = deadline.create_farm(displayName="no attachments")["farmId"]
    queue_id = deadline.create_queue(farmId=farm_id, displayName="plain")["queueId"]
    user = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    assert "s3" not in stored_scope(server, user["accessKeyId"])


# -- worker entities and sessions -------------------------------------------------------------------

OUTPUT_ONLY = {
    "manifests": [
        {"rootPath": "/in", "rootPathFormat": "posix", "outputRelativeDirectories": ["out"]},
        {"rootPath": "/other", "rootPathFormat": "posix"},
    ],
    "fileSystem": "COPIED",
}


def test_job_entities_carry_attachment_settings_and_a_queue_role(
    server: ServerProcess, deadline: Any
) -> None:
    farm_id, queue_id, fleet_id = attachment_farm(deadline)
    job_id = submit(deadline, farm_id, queue_id, job_template(step("A")), attachments=OUTPUT_ONLY)
    worker = SyntheticWorker(server, farm_id, fleet_id)
    assert worker.poll()["assignedSessions"]  # workers read the jobs of their own sessions
    answer = worker.client.batch_get_job_entity(
        **worker.ids(),
        identifiers=[{"jobDetails": {"jobId": job_id}}, {"jobAttachmentDetails": {"jobId": job_id}}],
    )
    details = answer["entities"][0]["jobDetails"]
    # Then the worker is told the bucket and prefix, and a role ARN to ask queue credentials for
    assert details["jobAttachmentSettings"] == SETTINGS
    assert details["queueRoleArn"].startswith(f"arn:aws:iam::{server.admin.account_id}:role/")
    assert answer["entities"][1]["jobAttachmentDetails"] == {"jobId": job_id, "attachments": OUTPUT_ONLY}
    # And AssumeQueueRoleForWorker answers with read-write credentials for the queue's prefix
    credentials = worker.client.assume_queue_role_for_worker(**worker.ids(), queueId=queue_id)["credentials"]
    assert credentials["expiration"] - dt.datetime.now(dt.UTC) >= dt.timedelta(hours=1)
    assert stored_scope(server, credentials["accessKeyId"])["s3"]["access"] == "readwrite"
    # And a job without attachments has no attachment details
    plain = submit(deadline, farm_id, queue_id, job_template(step("A")))
    plain_worker = SyntheticWorker(server, farm_id, fleet_id)
    assert plain_worker.poll()["assignedSessions"]
    errors = plain_worker.client.batch_get_job_entity(
        **plain_worker.ids(), identifiers=[{"jobAttachmentDetails": {"jobId": plain}}]
    )["errors"]
    assert errors[0]["jobAttachmentDetails"]["code"] == "ResourceNotFoundException"


def test_sessions_sync_inputs_first_and_step_outputs_before_dependent_steps(
    server: ServerProcess, deadline: Any
) -> None:
    # Given a job with attachments whose step B depends on A, with a job environment
    farm_id, queue_id, fleet_id = attachment_farm(deadline)
    template = job_template(
        step("A", 2),
        step("B", dependencies=[{"dependsOn": "A"}]),
        jobEnvironments=[{"name": "JobEnv", "variables": {"Y": "2"}}],
    )
    job_id = submit(deadline, farm_id, queue_id, template, attachments=OUTPUT_ONLY)
    steps = {
        s["name"]: s["stepId"]
        for s in deadline.list_steps(farmId=farm_id, queueId=queue_id, jobId=job_id)["steps"]
    }
    worker = SyntheticWorker(server, farm_id, fleet_id)
    reported: dict[str, list[dict[str, str]]] = {}

    def report_manifests() -> None:
        """Task runs complete with one manifest entry per root, `{}` for a root without output."""
        for action_id, update in worker.updates.items():
            record = next(r for r in worker.ran if r["id"] == action_id)
            if "taskRun" in record and update.get("completedStatus") == "SUCCEEDED":
                manifests = [
                    {
                        "outputManifestPath": f"{farm_id}/{queue_id}/{job_id}/{action_id}_output",
                        "outputManifestHash": "ab" * 16,
                    },
                    {},
                ]
                update["manifests"] = reported[action_id] = manifests

    # When the worker runs the job, reporting output manifests with each task run
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    while job_status(deadline, farm_id, queue_id, job_id)["taskRunStatus"] != "SUCCEEDED":
        assert dt.datetime.now(dt.UTC) < end, "the job did not finish"
        worker.poll()
        worker.run_assigned()
        report_manifests()
    worker.work()
    # Then its session synced the job's inputs before entering any environment
    kinds = [
        next(k for k in r if k in ("envEnter", "envExit", "taskRun", "syncInputJobAttachments"))
        for r in worker.ran
    ]
    assert kinds[0] == "syncInputJobAttachments" and worker.ran[0]["syncInputJobAttachments"] == {}
    assert kinds[1] == "envEnter"
    # And step B's outputs-of-dependencies sync came after A's tasks and before B's task
    step_sync = [
        i for i, r in enumerate(worker.ran) if r.get("syncInputJobAttachments") == {"stepId": steps["B"]}
    ]
    assert len(step_sync) == 1
    b_run = next(i for i, r in enumerate(worker.ran) if r.get("taskRun", {}).get("stepId") == steps["B"])
    last_a = max(i for i, r in enumerate(worker.ran) if r.get("taskRun", {}).get("stepId") == steps["A"])
    assert last_a < step_sync[0] < b_run
    assert not any(r.get("syncInputJobAttachments") == {"stepId": steps["A"]} for r in worker.ran)
    # And the reported manifests are returned by every session-action read
    assert len(reported) == 3
    listed = {
        a["sessionActionId"]: a
        for a in deadline.list_session_actions(farmId=farm_id, queueId=queue_id, jobId=job_id)[
            "sessionActions"
        ]
    }
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    batch = deadline.batch_get_session_action(
        identifiers=[{**ids, "sessionActionId": action_id} for action_id in reported]
    )
    assert not batch["errors"]
    assert {(a["farmId"], a["queueId"], a["jobId"]) for a in batch["sessionActions"]} == {tuple(ids.values())}
    session_ids = [s["sessionId"] for s in deadline.list_sessions(**ids)["sessions"]]
    sessions = deadline.batch_get_session(identifiers=[{**ids, "sessionId": s} for s in session_ids])
    assert [s["sessionId"] for s in sessions["sessions"]] == session_ids and not sessions["errors"]
    batched = {a["sessionActionId"]: a for a in batch["sessionActions"]}
    for action_id, manifests in reported.items():
        got = deadline.get_session_action(**ids, sessionActionId=action_id)
        assert got["manifests"] == manifests
        assert listed[action_id]["manifests"] == manifests
        assert batched[action_id]["manifests"] == manifests
    # And each task names the action that ran it last (download-output --task-id reads it)
    task = deadline.list_tasks(**ids, stepId=steps["B"])["tasks"][0]
    got_task = deadline.get_task(**ids, stepId=steps["B"], taskId=task["taskId"])
    b_action = worker.ran[b_run]["id"]
    assert got_task["latestSessionActionId"] == b_action


def test_a_job_without_attachments_has_no_sync_actions(server: ServerProcess, deadline: Any) -> None:
    farm_id, queue_id, fleet_id = attachment_farm(deadline)
    job_id = submit(
        deadline, farm_id, queue_id, job_template(step("A"), step("B", dependencies=[{"dependsOn": "A"}]))
    )
    worker = SyntheticWorker(server, farm_id, fleet_id)
    drive([worker], lambda: job_status(deadline, farm_id, queue_id, job_id)["taskRunStatus"] == "SUCCEEDED")
    assert not any("syncInputJobAttachments" in r for r in worker.ran)


# -- storage profiles and path mapping --------------------------------------------------------------


def test_storage_profiles_for_a_queue_and_the_rules_its_sessions_get(
    server: ServerProcess, deadline: Any
) -> None:
    farm_id = deadline.create_farm(displayName="profiles")["farmId"]
    locations = [
        {"name": "Projects", "path": "/projects", "type": "SHARED"},
        {"name": "Scratch", "path": "/scratch", "type": "SHARED"},
        {"name": "ProjLocal", "path": "/home/me/proj", "type": "LOCAL"},
    ]
    workstation = deadline.create_storage_profile(
        farmId=farm_id, displayName="ws", osFamily="LINUX", fileSystemLocations=locations
    )["storageProfileId"]
    fleet_locations = [
        {"name": "Projects", "path": "/mnt/projects", "type": "SHARED"},
        {"name": "Scratch", "path": "/mnt/scratch", "type": "SHARED"},
        {"name": "ProjLocal", "path": "/var/proj", "type": "LOCAL"},
    ]
    fleet_profile = deadline.create_storage_profile(
        farmId=farm_id, displayName="fleet", osFamily="LINUX", fileSystemLocations=fleet_locations
    )["storageProfileId"]
    queue_id = deadline.create_queue(
        farmId=farm_id,
        displayName="q",
        jobAttachmentSettings=SETTINGS,
        requiredFileSystemLocationNames=["Projects", "ProjLocal"],
        allowedStorageProfileIds=[workstation],
    )["queueId"]
    # Then the queue's view of the profile drops the SHARED location it does not require
    view = deadline.get_storage_profile_for_queue(
        farmId=farm_id, queueId=queue_id, storageProfileId=workstation
    )
    assert [loc["name"] for loc in view["fileSystemLocations"]] == ["Projects", "ProjLocal"]
    assert (
        len(deadline.get_storage_profile(farmId=farm_id, storageProfileId=workstation)["fileSystemLocations"])
        == 3
    )
    # And a profile the queue does not allow is not found through it
    with pytest.raises(ClientError) as info:
        deadline.get_storage_profile_for_queue(
            farmId=farm_id, queueId=queue_id, storageProfileId=fleet_profile
        )
    assert _code(info) == "ResourceNotFoundException"
    # When a job using the workstation profile, with a manifest under the LOCAL location, reaches a worker
    fleet_id = deadline.create_fleet(
        farmId=farm_id,
        displayName="fleet",
        roleArn="arn:aws:iam::123456789012:role/fleet",
        maxWorkerCount=4,
        configuration={
            "customerManaged": {
                "mode": "NO_SCALING",
                "workerCapabilities": LINUX,
                "storageProfileId": fleet_profile,
            }
        },
    )["fleetId"]
    deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=fleet_id)
    attachments = {
        "manifests": [
            {
                "rootPath": "/home/me/proj/shot1",
                "rootPathFormat": "posix",
                "fileSystemLocationName": "ProjLocal",
            },
            {"rootPath": "/tmp", "rootPathFormat": "posix"},
        ]
    }
    job_id = submit(
        deadline,
        farm_id,
        queue_id,
        job_template(step("A")),
        attachments=attachments,
        storageProfileId=workstation,
    )
    job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
    assert job["storageProfileId"] == workstation and job["attachments"] == attachments
    worker = SyntheticWorker(server, farm_id, fleet_id)
    assert worker.poll()["assignedSessions"]
    details = worker.client.batch_get_job_entity(
        **worker.ids(), identifiers=[{"jobDetails": {"jobId": job_id}}]
    )["entities"][0]["jobDetails"]
    # Then the rules cover the required locations in both profiles, plus the LOCAL manifest's root
    assert details["pathMappingRules"] == [
        {"sourcePathFormat": "posix", "sourcePath": "/projects", "destinationPath": "/mnt/projects"},
        {"sourcePathFormat": "posix", "sourcePath": "/home/me/proj", "destinationPath": "/var/proj"},
        {
            "sourcePathFormat": "posix",
            "sourcePath": "/home/me/proj/shot1",
            "destinationPath": "/var/proj/shot1",
        },
    ]
    # And BatchGetJob returns them too (the model's JobSearchSummary has no member for them)
    batch = deadline.batch_get_job(identifiers=[{"farmId": farm_id, "queueId": queue_id, "jobId": job_id}])
    assert batch["jobs"][0]["attachments"] == attachments
    assert batch["jobs"][0]["storageProfileId"] == workstation


# -- CreateJob attachments: bad input ---------------------------------------------------------------


def _manifest(**members: Any) -> dict[str, Any]:
    return {"rootPath": "/in", "rootPathFormat": "posix", **members}


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        (_manifest(inputManifestPath="a/b_input"), "attachments.manifests[0].inputManifestHash"),
        (_manifest(inputManifestHash="0" * 32), "attachments.manifests[0].inputManifestPath"),
        (_manifest(inputManifestPath="../q2/x_input", inputManifestHash="0" * 32), "inputManifestPath"),
        (_manifest(inputManifestPath="/abs_input", inputManifestHash="0" * 32), "inputManifestPath"),
        (_manifest(inputManifestPath="a//b", inputManifestHash="0" * 32), "inputManifestPath"),
        (_manifest(inputManifestPath="a/b_input", inputManifestHash="not-a-hash"), "inputManifestHash"),
        (_manifest(outputRelativeDirectories=["../../etc"]), "outputRelativeDirectories[0]"),
        (_manifest(outputRelativeDirectories=["ok", "/abs"]), "outputRelativeDirectories[1]"),
        (_manifest(outputRelativeDirectories=["C:\\out"]), "outputRelativeDirectories[0]"),
        (_manifest(inputManifestPath="a/b_input", inputManifestHash="0" * 32), "attachments"),
    ],
)
def test_bad_attachments_are_refused_naming_the_member_and_store_nothing(
    deadline: Any, manifest: dict[str, Any], field: str
) -> None:
    farm_id, queue_id, _ = attachment_farm(deadline)
    with pytest.raises(ClientError) as info:
        deadline.create_job(
            farmId=farm_id,
            queueId=queue_id,
            template=json.dumps(job_template(step("A"))),
            templateType="JSON",
            priority=50,
            attachments={"manifests": [manifest]},
        )
    assert _code(info) == "ValidationException"
    assert field in info.value.response["Error"]["Message"], info.value.response["Error"]["Message"]
    assert deadline.list_jobs(farmId=farm_id, queueId=queue_id)["jobs"] == []


def test_attachments_need_a_queue_with_settings_and_known_locations(deadline: Any) -> None:
    farm_id = deadline.create_farm(displayName="no settings")["farmId"]
    plain = deadline.create_queue(farmId=farm_id, displayName="plain")["queueId"]
    with pytest.raises(ClientError) as info:
        submit(deadline, farm_id, plain, job_template(step("A")), attachments=OUTPUT_ONLY)
    assert _code(info) == "ValidationException"
    assert "jobAttachmentSettings" in info.value.response["Error"]["Message"]
    # A manifest tagged with a location its storage profile does not have is refused too
    profile = deadline.create_storage_profile(
        farmId=farm_id,
        displayName="ws",
        osFamily="LINUX",
        fileSystemLocations=[{"name": "Proj", "path": "/proj", "type": "LOCAL"}],
    )["storageProfileId"]
    queue_id = deadline.create_queue(
        farmId=farm_id, displayName="q", jobAttachmentSettings=SETTINGS, allowedStorageProfileIds=[profile]
    )["queueId"]
    tagged = {"manifests": [_manifest(fileSystemLocationName="Other")]}
    with pytest.raises(ClientError) as info:
        submit(
            deadline, farm_id, queue_id, job_template(step("A")), attachments=tagged, storageProfileId=profile
        )
    assert "attachments.manifests[0].fileSystemLocationName" in info.value.response["Error"]["Message"]
