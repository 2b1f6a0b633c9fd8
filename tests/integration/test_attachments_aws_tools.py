"""The unmodified AWS tools move job attachments through a queue bucket, on the farm or in SeaweedFS.

`deadline bundle submit` (AWS CLI 0.60) uploads an input with queue credentials (minted by the farm,
or obtained from SeaweedFS's STS), CreateJob checks the manifest in the store, the unmodified AWS worker agent
syncs the input, runs the task, uploads the output and reports its manifest, and `deadline job
download-output` brings the output back. Bytes go straight between the tools and the store.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _aws_agent import running_aws_agent
from _worker_farm import Farm

from _seaweedfs_sts import SeaweedSTS
from farmhand.testing import ServerProcess, server_environment

pytestmark = pytest.mark.timeout(300)

BUCKET = "studio-attachments"
DEADLINE_CLI = str(Path(sys.executable).with_name("deadline"))
TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "upper",
    "parameterDefinitions": [
        {"name": "InFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"},
        {"name": "OutDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "OUT"},
    ],
    "steps": [
        {
            "name": "Upper",
            "script": {
                "actions": {"onRun": {"command": "bash", "args": ["{{Task.File.Run}}"]}},
                "embeddedFiles": [
                    {
                        "name": "Run",
                        "type": "TEXT",
                        "data": "set -e\nmkdir -p '{{Param.OutDir}}'\n"
                        "tr a-z A-Z < '{{Param.InFile}}' > '{{Param.OutDir}}/upper.txt'\n",
                    }
                ],
            },
        }
    ],
}


@dataclass
class StoreFarm:
    """A farm whose queue keeps attachments in a store clients reach at `s3_url`."""

    farm: Farm
    s3_url: str
    admin_s3: Any  # reads anything in the bucket (assertions)


@pytest.fixture(scope="module", params=["farm", "seaweedfs"])
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreFarm]:
    with ExitStack() as stack:
        data = tmp_path_factory.mktemp(f"farm-{request.param}")
        if request.param == "farm":
            server = stack.enter_context(ServerProcess(data))
            s3_url, admin_s3 = server.url, server.client("s3")
        else:
            store = stack.enter_context(SeaweedSTS(tmp_path_factory.mktemp("seaweed")))
            stores = store.stores_file(data.parent / f"{data.name}-stores.toml", [BUCKET])
            server = stack.enter_context(ServerProcess(data, extra_args=["--object-stores", str(stores)]))
            s3_url, admin_s3 = store.url, store.service_client("s3")
        admin_s3.create_bucket(Bucket=BUCKET)
        built = Farm(server)
        built.deadline.update_queue(
            farmId=built.farm_id,
            queueId=built.queue_id,
            jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": "DeadlineCloud"},
        )
        yield StoreFarm(built, s3_url, admin_s3)


def tool_environment(setup: StoreFarm, home: Path) -> dict[str, str]:
    """Every client at the farm, S3 at the store."""
    env = server_environment(setup.farm.server, home)
    env.update(
        AWS_ENDPOINT_URL_S3=setup.s3_url,
        AWS_REGION="us-west-2",
        HOME=str(home),
        DEADLINE_CONFIG_FILE_PATH=str(home / "deadline-config"),
        DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
    )
    return env


@pytest.fixture(scope="module")
def aws_agent(setup: StoreFarm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("agent")
    farm = setup.farm
    with running_aws_agent(farm.farm_id, farm.fleet_id, home, tool_environment(setup, home)):
        yield


def deadline_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEADLINE_CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_submit_run_and_download_output_through_the_store(
    setup: StoreFarm, aws_agent: None, tmp_path: Path
) -> None:
    farm = setup.farm
    # Given a bundle reading one input file and writing an output directory
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "template.json").write_text(json.dumps(TEMPLATE))
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    inputs.mkdir()
    (inputs / "words.txt").write_text("hello attachments\n")
    env = tool_environment(setup, tmp_path / "home")
    (tmp_path / "home").mkdir()
    ids = ["--farm-id", farm.farm_id, "--queue-id", farm.queue_id]
    # When the AWS CLI submits it
    submit = deadline_cli(
        env,
        "bundle",
        "submit",
        str(bundle),
        *ids,
        "-p",
        f"InFile={inputs / 'words.txt'}",
        "-p",
        f"OutDir={outputs}",
        "--yes",
    )
    assert submit.returncode == 0, submit.stdout + submit.stderr
    job_id = re.findall(r"job-[0-9a-f]{32}", submit.stdout)[-1]
    # Then the input and its manifest are in the store, under the queue's prefix
    s3 = setup.admin_s3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="DeadlineCloud/")["Contents"]]
    assert any(k.startswith("DeadlineCloud/Data/") for k in keys)
    assert any(k.startswith(f"DeadlineCloud/Manifests/{farm.farm_id}/{farm.queue_id}/Inputs/") for k in keys)
    # And the AWS agent runs the job
    job = farm.wait(job_id, timeout=200)
    assert job["taskRunStatus"] == "SUCCEEDED", job
    assert not outputs.exists()
    # And the task run reported its output manifest, which every session-action read returns
    task_runs = [a for a in farm.actions(job_id) if "taskRun" in a["definition"]]
    manifests = task_runs[0].get("manifests")
    assert manifests and manifests[0]["outputManifestPath"].endswith("_output"), task_runs
    step_id = farm.steps(job_id)[0]["stepId"]
    task = farm.tasks(job_id, step_id)[0]
    assert task["latestSessionActionId"] == task_runs[0]["sessionActionId"]
    # And download-output brings the output back from the store
    download = deadline_cli(
        env, "job", "download-output", *ids, "--job-id", job_id, "--conflict-resolution", "OVERWRITE", "--yes"
    )
    assert download.returncode == 0, download.stdout + download.stderr
    deadline_end = time.monotonic() + 10
    while not (outputs / "upper.txt").exists() and time.monotonic() < deadline_end:
        time.sleep(0.2)
    assert (outputs / "upper.txt").read_text() == "HELLO ATTACHMENTS\n"
