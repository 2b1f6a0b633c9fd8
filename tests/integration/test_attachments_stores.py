"""Queue buckets in either store: the farm's own object store, or an external one (SeaweedFS + STS).

The same behaviour on both: queue credentials reach only the queue's bucket under its prefix (read
and write, or read and list), the farm's APIs accept them within the queue's scope and its STS
answers the account the store compares `x-amz-expected-bucket-owner` with; CreateJob checks input
manifests in the store; CopyJobTemplate writes there within the caller's reach. For the external
store the farm obtains the credentials from the store's STS AssumeRole with a session policy.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import xxhash
from _synthetic_workers import credentials_session
from botocore.config import Config
from botocore.exceptions import ClientError

from _seaweedfs_sts import STORE_ACCOUNT, SeaweedSTS
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)

BUCKET = "render-attachments"
TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "stores",
    "steps": [{"name": "A", "script": {"actions": {"onRun": {"command": "true"}}}}],
}


@dataclass
class Backend:
    """A farm and the store holding its queues' bucket."""

    server: ServerProcess
    s3_url: str  # where clients send S3 requests
    account: str  # what STS answers for queue credentials
    admin_s3: Any  # reads anything in the bucket (assertions)


@pytest.fixture(scope="module", params=["farm", "seaweedfs"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with ExitStack() as stack:
        data = tmp_path_factory.mktemp(f"stores-{request.param}")
        if request.param == "farm":
            server = stack.enter_context(ServerProcess(data))
            admin_s3 = server.client("s3")
            found = Backend(server, server.url, server.admin.account_id, admin_s3)
        else:
            store = stack.enter_context(SeaweedSTS(tmp_path_factory.mktemp("seaweed")))
            stores = store.stores_file(data.parent / f"{data.name}-stores.toml", [BUCKET])
            server = stack.enter_context(ServerProcess(data, extra_args=["--object-stores", str(stores)]))
            found = Backend(server, store.url, STORE_ACCOUNT, store.service_client("s3"))
        for bucket in (BUCKET, "unrelated"):
            found.admin_s3.create_bucket(Bucket=bucket)
        yield found


@pytest.fixture(scope="module")
def deadline(backend: Backend) -> Any:
    return backend.server.client("deadline")


@pytest.fixture(scope="module")
def queues(deadline: Any) -> tuple[str, str, str]:
    farm_id = deadline.create_farm(displayName="stores")["farmId"]
    first, second = (
        deadline.create_queue(
            farmId=farm_id,
            displayName=name,
            jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": f"jobs/{name}"},
        )["queueId"]
        for name in ("q1", "q2")
    )
    return farm_id, first, second


def store_s3(backend: Backend, credentials: dict[str, Any]) -> Any:
    return credentials_session(credentials).client(
        "s3", endpoint_url=backend.s3_url, config=Config(retries={"max_attempts": 1})
    )


def outcome(call: Any) -> str:
    try:
        call()
        return "ok"
    except ClientError as error:
        return str(error.response["Error"]["Code"])


def test_user_credentials_reach_only_the_queue_prefix(
    backend: Backend, deadline: Any, queues: tuple[str, str, str]
) -> None:
    farm_id, queue_id, other_queue = queues
    # When a user assumes the queue's role
    credentials = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    assert credentials["expiration"] - dt.datetime.now(dt.UTC) >= dt.timedelta(hours=1)
    s3 = store_s3(backend, credentials)
    # Then the store accepts them for the queue's prefix, read and write
    s3.put_object(Bucket=BUCKET, Key="jobs/q1/Data/abc.xxh128", Body=b"payload")
    assert s3.get_object(Bucket=BUCKET, Key="jobs/q1/Data/abc.xxh128")["Body"].read() == b"payload"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="jobs/q1/")["KeyCount"] == 1
    # And nothing else in the store
    assert outcome(lambda: s3.put_object(Bucket=BUCKET, Key="jobs/q2/Data/x", Body=b"x")) == "AccessDenied"
    assert outcome(lambda: s3.put_object(Bucket=BUCKET, Key="jobs/q1-other/x", Body=b"x")) == "AccessDenied"
    assert outcome(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="jobs/")) == "AccessDenied"
    assert outcome(lambda: s3.put_object(Bucket="unrelated", Key="jobs/q1/x", Body=b"x")) == "AccessDenied"
    # And the farm accepts the same credentials, within the queue, answering the store's account
    farm_deadline = backend.server.client("deadline", session=credentials_session(credentials))
    assert farm_deadline.get_queue(farmId=farm_id, queueId=queue_id)["displayName"] == "q1"
    with pytest.raises(ClientError) as info:
        farm_deadline.get_queue(farmId=farm_id, queueId=other_queue)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    identity = backend.server.client("sts", session=credentials_session(credentials)).get_caller_identity()
    assert identity["Account"] == backend.account
    # And uploads carrying that account as the expected bucket owner are accepted by the store
    s3.head_object(Bucket=BUCKET, Key="jobs/q1/Data/abc.xxh128", ExpectedBucketOwner=identity["Account"])
    # (and the farm's store, like S3, refuses another owner; SeaweedFS ignores the header)
    if backend.s3_url == backend.server.url:
        other = "1" * 12 if identity["Account"] != "1" * 12 else "2" * 12
        head = lambda: s3.head_object(Bucket=BUCKET, Key="jobs/q1/Data/abc.xxh128", ExpectedBucketOwner=other)  # noqa: E731
        assert outcome(head) in ("AccessDenied", "403")


def test_read_credentials_only_read(backend: Backend, deadline: Any, queues: tuple[str, str, str]) -> None:
    farm_id, queue_id, _ = queues
    writer = store_s3(
        backend, deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    )
    writer.put_object(Bucket=BUCKET, Key="jobs/q1/Manifests/m", Body=b"{}")
    reader = store_s3(
        backend, deadline.assume_queue_role_for_read(farmId=farm_id, queueId=queue_id)["credentials"]
    )
    assert reader.get_object(Bucket=BUCKET, Key="jobs/q1/Manifests/m")["Body"].read() == b"{}"
    assert reader.list_objects_v2(Bucket=BUCKET, Prefix="jobs/q1/Manifests/")["KeyCount"] == 1
    assert (
        outcome(lambda: reader.put_object(Bucket=BUCKET, Key="jobs/q1/Manifests/n", Body=b"x"))
        == "AccessDenied"
    )


def test_create_job_checks_input_manifests_in_the_store(
    backend: Backend, deadline: Any, queues: tuple[str, str, str]
) -> None:
    farm_id, queue_id, _ = queues
    # Given an input manifest the submitter uploaded with the queue's credentials
    entry = {"hash": "0" * 32, "mtime": 1, "path": "scene.blend", "size": 1}
    manifest = json.dumps(
        {"hashAlg": "xxh128", "manifestVersion": "2023-03-03", "paths": [entry], "totalSize": 1},
        separators=(",", ":"),
    ).encode()
    digest = xxhash.xxh3_128_hexdigest(manifest)
    path = f"{farm_id}/{queue_id}/Inputs/{'ab' * 16}/{'cd' * 16}_input"
    user = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    store_s3(backend, user).put_object(Bucket=BUCKET, Key=f"jobs/q1/Manifests/{path}", Body=manifest)

    def create(**manifest_members: str) -> str:
        attachments = {"manifests": [{"rootPath": "/in", "rootPathFormat": "posix", **manifest_members}]}
        return str(
            deadline.create_job(
                farmId=farm_id,
                queueId=queue_id,
                template=json.dumps(TEMPLATE),
                templateType="JSON",
                priority=50,
                attachments=attachments,
            )["jobId"]
        )

    # Then a job naming it with its hash is created
    job_id = create(inputManifestPath=path, inputManifestHash=digest)
    assert (
        deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)["attachments"]["manifests"][0][
            "inputManifestHash"
        ]
        == digest
    )
    # And a wrong hash, or a manifest that is not there, is refused naming the manifest
    for members, field in (
        ({"inputManifestPath": path, "inputManifestHash": "0" * 32}, "inputManifestHash"),
        ({"inputManifestPath": path + "-missing", "inputManifestHash": digest}, "inputManifestPath"),
    ):
        with pytest.raises(ClientError) as info:
            create(**members)
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert f"attachments.manifests[0].{field}" in info.value.response["Error"]["Message"]
    assert len(deadline.list_jobs(farmId=farm_id, queueId=queue_id)["jobs"]) == 1


def test_copy_job_template_writes_into_the_store_within_the_callers_reach(
    backend: Backend, deadline: Any, queues: tuple[str, str, str]
) -> None:
    farm_id, queue_id, _ = queues
    job_id = deadline.create_job(
        farmId=farm_id, queueId=queue_id, template=json.dumps(TEMPLATE), templateType="JSON", priority=50
    )["jobId"]
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    # When the template is copied into the queue's bucket
    answer = deadline.copy_job_template(
        **ids, targetS3Location={"bucketName": BUCKET, "key": "jobs/q1/t.json"}
    )
    # Then the object holds the template as submitted
    assert answer["templateType"] == "JSON"
    s3 = backend.admin_s3
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="jobs/q1/t.json")["Body"].read()) == TEMPLATE
    # And queue credentials may copy only inside their own prefix
    user = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
    as_user = backend.server.client("deadline", session=credentials_session(user))
    as_user.copy_job_template(**ids, targetS3Location={"bucketName": BUCKET, "key": "jobs/q1/mine.json"})
    with pytest.raises(ClientError) as info:
        as_user.copy_job_template(
            **ids, targetS3Location={"bucketName": BUCKET, "key": "jobs/q2/theirs.json"}
        )
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as info:
        deadline.copy_job_template(**ids, targetS3Location={"bucketName": BUCKET, "key": "jobs/../x.json"})
    assert info.value.response["Error"]["Code"] == "ValidationException"
