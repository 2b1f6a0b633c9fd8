"""`farmhand up` with the Default queue's job attachments in an external store (SeaweedFS)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _seaweedfs_sts import SeaweedSTS
from _workstation import Workstation, new_workstation

pytestmark = pytest.mark.timeout(300)

BUCKET = "embedded-attachments"
TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "reads a file",
    "parameterDefinitions": [{"name": "InFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"}],
    "steps": [
        {"name": "Cat", "script": {"actions": {"onRun": {"command": "cat", "args": ["{{Param.InFile}}"]}}}}
    ],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedSTS]:
    with SeaweedSTS(tmp_path_factory.mktemp("seaweed")) as running:
        s3: Any = running.service_client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield running


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Workstation]:
    station = new_workstation(tmp_path)
    station.env["HOME"] = str(tmp_path / "home")
    station.env["DEADLINE_CLOUD_TELEMETRY_OPT_OUT"] = "true"
    yield station
    station.down()


def test_up_keeps_the_default_queues_attachments_in_the_store(
    store: SeaweedSTS, station: Workstation, tmp_path: Path
) -> None:
    stores = store.stores_file(tmp_path / "stores.toml", [BUCKET])
    # When the farm starts with the store's bucket for its Default queue
    started = station.up("--workers", "0", "--object-stores", str(stores), "--attachments-bucket", BUCKET)
    assert started.returncode == 0, started.stdout + started.stderr
    status = station.status()
    # Then the queue keeps attachments there, under a prefix of its own
    deadline = station.deadline_client()
    queue = deadline.get_queue(farmId=status["farm_id"], queueId=status["queue_id"])
    assert queue["jobAttachmentSettings"] == {"s3BucketName": BUCKET, "rootPrefix": status["queue_id"]}
    # And the profile sends S3 to the store and everything else to the farm
    config = station.aws_config.read_text()
    assert f"s3 =\n  endpoint_url = {store.url}" in config
    assert f"sts =\n  endpoint_url = {status['url']}" in config
    # And the AWS CLI, configured only by that profile, submits a job whose input lands in the store
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "template.json").write_text(json.dumps(TEMPLATE))
    data = tmp_path / "data.txt"
    data.write_text("embedded input\n")
    submit = station.deadline("bundle", "submit", str(bundle), "-p", f"InFile={data}", "--yes")
    assert submit.returncode == 0, submit.stdout + submit.stderr
    job_id = re.findall(r"job-[0-9a-f]{32}", submit.stdout)[-1]
    job = deadline.get_job(farmId=status["farm_id"], queueId=status["queue_id"], jobId=job_id)
    assert job["attachments"]["manifests"][0]["inputManifestPath"]
    s3: Any = store.service_client("s3")
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{status['queue_id']}/Data/")["Contents"]
    ]
    assert len(keys) == 1


def test_up_refuses_a_stores_file_others_can_read_or_a_bucket_it_lacks(
    store: SeaweedSTS, station: Workstation, tmp_path: Path
) -> None:
    stores = store.stores_file(tmp_path / "stores.toml", [BUCKET])
    unknown = station.up("--object-stores", str(stores), "--attachments-bucket", "other")
    assert unknown.returncode != 0 and "bucket other is not in any store" in unknown.stderr
    os.chmod(stores, 0o640)
    readable = station.up("--object-stores", str(stores), "--attachments-bucket", BUCKET)
    assert readable.returncode != 0 and "chmod 600" in readable.stderr
    assert not station.data_dir.joinpath("farm.json").exists()
