"""Job attachments end to end on a farm whose queue buckets live in its own object store.

Submitters' trees are moved away after submission, so the workers can only read what was uploaded:
- farmhand's client submits, the farmhand worker syncs and runs, both `job download-output`s bring
  the outputs back byte for byte; a second job with the same inputs crosses no bytes to the worker;
- the AWS `deadline` CLI submits to the farmhand worker;
- farmhand's client submits to the unmodified AWS worker agent;
- a manifest naming a path outside its root, or an object that is not there, fails the sync with
  the path or key in the message, and nothing is written outside the session.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash
from _attachment_farm import (
    BUCKET,
    DEADLINE_CLI,
    AttachmentFarm,
    build_attachment_farm,
    move_away,
    write_bundle,
    write_project,
)
from _aws_agent import running_aws_agent
from botocore.exceptions import ClientError

from farmhand.client import api, config
from farmhand.client.api import _session
from farmhand.job_attachments import TransferCancelledError
from farmhand.testing import ServerProcess, WorkerProcess, server_environment

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttachmentFarm]:
    root = tmp_path_factory.mktemp("attachments")
    with ServerProcess(root / "server") as server:
        built = build_attachment_farm(server, root / "home")
        worker = WorkerProcess(
            server,
            built.farm.farm_id,
            built.fleets["farmhand"],
            root / "worker",
            extra_args=["-v", "--attachment-cache-dir", str(root / "host-cache")],
        ).start()
        try:
            with pytest.MonkeyPatch.context() as env:
                for name, value in built.env.items():
                    env.setenv(name, value)
                for name in [n for n in __import__("os").environ if n.startswith("AWS_ENDPOINT")]:
                    env.delenv(name)
                _session.clear_session_caches()
                yield built
                _session.clear_session_caches()
        finally:
            worker.stop()
            print(worker.output_file.read_text(errors="replace")[-6000:])


def submit_with_library(site: AttachmentFarm, kind: str, project: dict[str, str], bundle: Path) -> str:
    settings = config.read_config()
    config.set_setting("defaults.queue_id", site.queues[kind], settings)
    reports: list[Any] = []
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": name, "value": value} for name, value in project.items()],
        config=settings,
        interactive_confirmation_callback=lambda message, default: True,
        hashing_progress_callback=reports.append,
        upload_progress_callback=reports.append,
    )
    assert job_id is not None
    assert reports and reports[-1].progress == 100.0
    return job_id


def assert_outputs(root: Path) -> None:
    assert (root / "renders" / "upper.txt").read_text() == "HELLO ATTACHMENTS\n"
    assert (root / "renders" / "sub" / "all.txt").read_text() == "first\nsecond\nthird\n"


def test_farmhand_client_and_worker_then_both_download_outputs(site: AttachmentFarm, tmp_path: Path) -> None:
    # Given a project submitted with farmhand's client, then moved away from the submitter's path
    root = tmp_path / "project"
    project = write_project(root)
    job_id = submit_with_library(site, "farmhand", project, write_bundle(tmp_path / "bundle"))
    move_away(root)
    # When the farmhand worker runs it
    job = site.wait("farmhand", job_id)
    # Then it succeeds on the uploaded inputs and reports its output manifest as the AWS agent does
    assert job["taskRunStatus"] == "SUCCEEDED", site.session_logs("farmhand", job_id)
    assert job["attachments"]["manifests"][0]["rootPath"] == str(root)
    [task_run] = [a for a in site.actions("farmhand", job_id) if "taskRun" in a["definition"]]
    [reported] = task_run["manifests"]
    assert re.fullmatch(
        rf"{site.farm.farm_id}/{site.queues['farmhand']}/{job_id}/step-\w+/task-[\w-]+/"
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z_sessionaction-[\w-]+/[0-9a-f]{32}_output",
        reported["outputManifestPath"],
    )
    s3 = site.server.client("s3")
    key = f"FarmhandQueue/Manifests/{reported['outputManifestPath']}"
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["Metadata"]["asset-root"] == str(root)
    assert xxhash.xxh3_128_hexdigest(stored["Body"].read()) == reported["outputManifestHash"]
    # When farmhand's CLI downloads the outputs
    done = site.farmhand("job", "download-output", *site.ids("farmhand"), "--job-id", job_id, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_outputs(root)
    # And the AWS CLI does the same into a fresh tree
    move_away(Path(str(root)))
    done = site.deadline(
        "job", "download-output", *site.ids("farmhand"), "--job-id", job_id, "--yes",
        "--conflict-resolution", "OVERWRITE",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert_outputs(root)


def test_a_second_job_with_the_same_inputs_crosses_no_bytes(site: AttachmentFarm, tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = write_project(root)
    bundle = write_bundle(tmp_path / "bundle")
    first = submit_with_library(site, "farmhand", project, bundle)
    assert site.wait("farmhand", first)["taskRunStatus"] == "SUCCEEDED"
    second = submit_with_library(site, "farmhand", project, bundle)
    assert site.wait("farmhand", second)["taskRunStatus"] == "SUCCEEDED"
    log = site.session_logs("farmhand", second)
    assert "Syncing job attachments: 0 files (0 bytes) downloaded, 4 from this host's cache" in log, log


def test_the_aws_cli_submits_to_the_farmhand_worker(site: AttachmentFarm, tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = write_project(root)
    bundle = write_bundle(tmp_path / "bundle")
    parameters = [arg for name, value in project.items() for arg in ("-p", f"{name}={value}")]
    submitted = site.deadline("bundle", "submit", str(bundle), *site.ids("farmhand"), *parameters, "--yes")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = re.findall(r"job-[0-9a-f]{32}", submitted.stdout)[-1]
    move_away(root)
    job = site.wait("farmhand", job_id)
    assert job["taskRunStatus"] == "SUCCEEDED", site.session_logs("farmhand", job_id)
    done = site.farmhand("job", "download-output", *site.ids("farmhand"), "--job-id", job_id, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_outputs(root)


def test_farmhand_client_to_the_aws_worker_agent(site: AttachmentFarm, tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = write_project(root)
    job_id = submit_with_library(site, "aws", project, write_bundle(tmp_path / "bundle"))
    move_away(root)
    home = tmp_path / "agent"
    home.mkdir()
    env = server_environment(site.server, home)
    env.update(AWS_ENDPOINT_URL_S3=site.server.url, AWS_ENDPOINT_URL_STS=site.server.url, HOME=str(home))
    with running_aws_agent(site.farm.farm_id, site.fleets["aws"], home, env):
        job = site.wait("aws", job_id, timeout=240)
    assert job["taskRunStatus"] == "SUCCEEDED"
    done = site.farmhand("job", "download-output", *site.ids("aws"), "--job-id", job_id, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_outputs(root)
    # And the AWS CLI brings the agent's outputs back too, into a fresh tree
    move_away(Path(str(root)))
    done = site.deadline("job", "download-output", *site.ids("aws"), "--job-id", job_id, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_outputs(root)


def failed_sync(site: AttachmentFarm, job_id: str) -> dict[str, Any]:
    """The job's (first) input sync action, with its message."""
    [summary] = [a for a in site.actions("farmhand", job_id) if "syncInputJobAttachments" in a["definition"]]
    return dict(
        site.farm.deadline.get_session_action(
            farmId=site.farm.farm_id,
            queueId=site.queues["farmhand"],
            jobId=job_id,
            sessionActionId=summary["sessionActionId"],
        )
    )


def create_true_job(site: AttachmentFarm, **options: Any) -> str:
    """A one-task job running `true` in the "farmhand" queue, created straight through CreateJob."""
    template = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "crafted",
        "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "true"}}}}],
    }
    return str(
        site.farm.deadline.create_job(
            farmId=site.farm.farm_id,
            queueId=site.queues["farmhand"],
            template=json.dumps(template),
            templateType="JSON",
            priority=50,
            maxRetriesPerTask=0,
            **options,
        )["jobId"]
    )


def crafted_job(site: AttachmentFarm, manifest: dict[str, Any], root: str, *, suspended: bool = False) -> str:
    """A job whose input manifest was written by hand (the farm only checks it exists and its hash)."""
    data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    folder = f"{site.farm.farm_id}/{site.queues['farmhand']}/Inputs/{'0' * 32}"
    path = f"{folder}/{xxhash.xxh3_128_hexdigest(root)}_input"
    site.server.client("s3").put_object(Bucket=BUCKET, Key=f"FarmhandQueue/Manifests/{path}", Body=data)
    return create_true_job(
        site,
        **({"targetTaskRunStatus": "SUSPENDED"} if suspended else {}),
        attachments={
            "manifests": [
                {
                    "rootPath": root,
                    "rootPathFormat": "posix",
                    "inputManifestPath": path,
                    "inputManifestHash": xxhash.xxh3_128_hexdigest(data),
                }
            ],
            "fileSystem": "COPIED",
        },
    )


def manifest_with(path: str, content: bytes) -> dict[str, Any]:
    return {
        "hashAlg": "xxh128",
        "manifestVersion": "2023-03-03",
        "paths": [
            {"hash": xxhash.xxh3_128_hexdigest(content), "mtime": 1, "path": path, "size": len(content)}
        ],
        "totalSize": len(content),
    }


@pytest.mark.parametrize(
    ("path", "problem"),
    [("../../escaped.txt", r"\.\./\.\./escaped\.txt"), ("/etc/escaped.txt", r"/etc/escaped\.txt")],
)
def test_a_manifest_path_outside_its_root_is_refused_at_submission(
    site: AttachmentFarm, tmp_path: Path, path: str, problem: str
) -> None:
    with pytest.raises(ClientError) as refused:
        crafted_job(site, manifest_with(path, b"escape attempt"), str(tmp_path / "root"))
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException" and re.search(problem, error["Message"]), error


def test_a_manifest_replaced_after_submission_fails_the_sync(site: AttachmentFarm, tmp_path: Path) -> None:
    # Given a job whose input manifest is replaced in the bucket after CreateJob accepted it
    content = b"escape attempt"
    s3 = site.server.client("s3")
    s3.put_object(
        Bucket=BUCKET, Key=f"FarmhandQueue/Data/{xxhash.xxh3_128_hexdigest(content)}.xxh128", Body=content
    )
    job_id = crafted_job(site, manifest_with("fine.txt", content), str(tmp_path / "root"), suspended=True)
    [attached] = site.farm.deadline.get_job(
        farmId=site.farm.farm_id, queueId=site.queues["farmhand"], jobId=job_id
    )["attachments"]["manifests"]
    key = f"FarmhandQueue/Manifests/{attached['inputManifestPath']}"
    evil = json.dumps(manifest_with("../../escaped.txt", content), sort_keys=True, separators=(",", ":"))
    s3.put_object(Bucket=BUCKET, Key=key, Body=evil.encode())
    # When the worker syncs it
    site.farm.deadline.update_job(
        farmId=site.farm.farm_id, queueId=site.queues["farmhand"], jobId=job_id, targetTaskRunStatus="READY"
    )
    assert site.wait("farmhand", job_id)["taskRunStatus"] == "FAILED"
    # Then the sync fails naming the manifest, and nothing is written outside the session
    sync = failed_sync(site, job_id)
    assert (
        sync["status"] == "FAILED"
        and "is not the manifest the job was submitted with" in sync["progressMessage"]
    )
    assert key in sync["progressMessage"]
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_a_job_without_attachments_runs_on_a_queue_with_a_bucket(site: AttachmentFarm) -> None:
    # Given a queue that keeps job attachments, and a job submitted without any
    job_id = create_true_job(site)
    # When the farmhand worker runs it
    job = site.wait("farmhand", job_id)
    # Then it succeeds with no sync and no output manifest, as on the AWS agent
    assert job["taskRunStatus"] == "SUCCEEDED", site.session_logs("farmhand", job_id)
    actions = site.actions("farmhand", job_id)
    assert [next(iter(a["definition"])) for a in actions] == ["taskRun"]
    assert not actions[0].get("manifests")
    # And asking for its outputs says why there are none
    done = site.farmhand("job", "download-output", *site.ids("farmhand"), "--job-id", job_id, "--yes")
    assert done.returncode != 0 and "has no job attachments" in done.stderr, done.stdout + done.stderr


def job_ids(site: AttachmentFarm) -> set[str]:
    pages = site.farm.deadline.get_paginator("list_jobs").paginate(
        farmId=site.farm.farm_id, queueId=site.queues["farmhand"]
    )
    return {job["jobId"] for page in pages for job in page["jobs"]}


def test_a_missing_input_or_a_canceled_upload_creates_no_job(site: AttachmentFarm, tmp_path: Path) -> None:
    # Given a project whose files the bucket has never seen
    root = tmp_path / "project"
    project = write_project(root)
    for path in (root / "scene.txt", root / "inputs" / "a.txt"):
        path.write_text(f"{path.name} of {tmp_path}\n")
    data_keys = {
        f"FarmhandQueue/Data/{xxhash.xxh3_128_hexdigest(path.read_bytes())}.xxh128"
        for path in (root / "scene.txt", root / "inputs" / "a.txt")
    }
    s3 = site.server.client("s3")
    settings = config.read_config()
    config.set_setting("defaults.queue_id", site.queues["farmhand"], settings)
    bundle = str(write_bundle(tmp_path / "bundle"))
    before = job_ids(site)

    def submit(values: dict[str, str], **options: Any) -> Any:
        return api.create_job_from_job_bundle(
            bundle,
            [{"name": name, "value": value} for name, value in values.items()],
            config=settings,
            interactive_confirmation_callback=lambda message, default: True,
            print_function_callback=lambda *_: None,
            **options,
        )

    def stored(key: str) -> bool:
        return bool(s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"))

    # When one input is missing and the submitter requires every path to exist
    with pytest.raises(api.MisconfiguredInputsError, match=r"Missing input files[\s\S]*gone\.txt"):
        submit({**project, "InFile": str(root / "gone.txt")}, require_paths_exist=True)
    # Then nothing was uploaded, not even the inputs that are there
    assert not any(stored(key) for key in data_keys)
    # When the upload progress callback asks to stop
    reports: list[Any] = []

    def stop(report: Any) -> bool:
        reports.append(report)
        return False

    with pytest.raises(TransferCancelledError):
        submit(project, upload_progress_callback=stop)
    # Then the submission stops at its first report and no job is created
    assert len(reports) == 1
    assert job_ids(site) == before


def test_a_missing_object_fails_the_sync_naming_it(site: AttachmentFarm, tmp_path: Path) -> None:
    digest = xxhash.xxh3_128_hexdigest(b"never uploaded")
    job_id = crafted_job(site, manifest_with("scene.blend", b"never uploaded"), str(tmp_path / "root"))
    assert site.wait("farmhand", job_id)["taskRunStatus"] == "FAILED"
    sync = failed_sync(site, job_id)
    assert f"FarmhandQueue/Data/{digest}.xxh128 does not exist" in sync["progressMessage"], sync
    assert "scene.blend" in sync["progressMessage"]


def test_manifest_and_attachment_commands(site: AttachmentFarm, tmp_path: Path) -> None:
    # Given a directory
    root = tmp_path / "assets"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("beta")
    # When both CLIs snapshot it, the manifests are byte for byte the same
    (tmp_path / "m2").mkdir()  # the AWS CLI wants the destination to exist
    ours = site.farmhand("manifest", "snapshot", "--root", str(root), "-d", str(tmp_path / "m1"), "--json")
    theirs = site.deadline("manifest", "snapshot", "--root", str(root), "-d", str(tmp_path / "m2"), "--json")
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    ours_path = Path(json.loads(ours.stdout)["manifest"])
    theirs_path = Path(json.loads(theirs.stdout[theirs.stdout.index("{") :])["manifest"])
    assert ours_path.read_bytes() == theirs_path.read_bytes()
    assert f"-{xxhash.xxh3_128_hexdigest(str(root))}-" in ours_path.name
    # And a diff names what changed
    (root / "c.txt").write_text("gamma")
    (root / "a.txt").write_text("ALPHA!")
    diff = site.farmhand("manifest", "diff", "--root", str(root), "--manifest", str(ours_path), "--json")
    assert json.loads(diff.stdout) == {"new": ["c.txt"], "modified": ["a.txt"], "deleted": []}
    (root / "c.txt").unlink()
    (root / "a.txt").write_text("alpha")
    ours = site.farmhand("manifest", "snapshot", "--root", str(root), "-d", str(tmp_path / "m3"), "--json")
    manifest = json.loads(ours.stdout)["manifest"]
    # When its files are uploaded with the queue's credentials, then downloaded elsewhere
    ids = site.ids("farmhand")
    up = site.farmhand("attachment", "upload", "-m", manifest, "-r", str(root), *ids, "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["processedFiles"] + json.loads(up.stdout)["skippedFiles"] == 2
    copy = str(tmp_path / "copy")
    down = site.farmhand("attachment", "download", "-m", manifest, "-r", copy, *ids, "--json")
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "copy" / "sub" / "b.txt").read_text() == "beta"
    # And the manifest itself goes under Manifests/ where the AWS CLI puts it
    sent = site.farmhand("manifest", "upload", manifest, "--s3-manifest-prefix", "by-hand", *ids, "--json")
    assert sent.returncode == 0, sent.stderr
    key = f"FarmhandQueue/Manifests/by-hand/{Path(manifest).name}"
    assert site.server.client("s3").head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


def test_download_input_and_manifest_download(site: AttachmentFarm, tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = write_project(root)
    job_id = submit_with_library(site, "farmhand", project, write_bundle(tmp_path / "bundle"))
    assert site.wait("farmhand", job_id)["taskRunStatus"] == "SUCCEEDED"
    ids = [*site.ids("farmhand"), "--job-id", job_id]
    inputs = site.farmhand("job", "download-input", *ids, "--destination", str(tmp_path / "inputs"), "--yes")
    assert inputs.returncode == 0, inputs.stderr
    assert (tmp_path / "inputs" / "root0" / "inputs" / "nested" / "c.txt").read_text() == "third\n"
    manifests = site.farmhand("manifest", "download", str(tmp_path / "manifests"), *ids, "--json")
    assert manifests.returncode == 0, manifests.stderr
    kinds = sorted(m["type"] for m in json.loads(manifests.stdout)["manifests"])
    assert kinds == ["input", "output"]


def test_queue_sync_output_both_clis(site: AttachmentFarm, tmp_path: Path) -> None:
    # Given a finished job whose outputs are not on this machine
    root = tmp_path / "project"
    project = write_project(root)
    job_id = submit_with_library(site, "farmhand", project, write_bundle(tmp_path / "bundle"))
    move_away(root)
    assert site.wait("farmhand", job_id)["taskRunStatus"] == "SUCCEEDED"
    # When farmhand syncs the queue's outputs, they arrive; a second run finds nothing new
    options = ["--bootstrap-lookback-minutes", "60", "--ignore-storage-profiles", "--json"]
    checkpoints = ["--checkpoint-dir", str(tmp_path / "checkpoints")]
    first = site.farmhand("queue", "sync-output", *site.ids("farmhand"), *options, *checkpoints)
    assert first.returncode == 0, first.stderr
    assert job_id in json.loads(first.stdout)["jobs"]
    assert_outputs(root)
    again = site.farmhand("queue", "sync-output", *site.ids("farmhand"), *options, *checkpoints)
    assert again.returncode == 0 and json.loads(again.stdout)["files"] == 0, again.stdout + again.stderr
    # And the AWS CLI's sync-output reads the same manifests
    move_away(Path(str(root)))
    theirs = site.deadline(
        "queue", "sync-output", *site.ids("farmhand"), "--bootstrap-lookback-minutes", "60",
        "--ignore-storage-profiles", "--checkpoint-dir", str(tmp_path / "aws-checkpoints"),
    )  # fmt: skip
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert_outputs(root)


SAMPLES = Path(__file__).parent / "bundles"


def test_the_aws_cli_submits_the_shared_samples_to_the_farmhand_worker(
    site: AttachmentFarm, tmp_path: Path
) -> None:
    # Given the samples' input files on the submitter's machine
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    (data / "one.txt").write_text("one\n")
    (data / "nested" / "two.txt").write_text("two\n")
    scene = tmp_path / "scenes" / "shot.ma"
    scene.parent.mkdir()
    scene.write_text("scene\n")
    ids = site.ids("farmhand")
    # When the AWS CLI submits cli_job (an INOUT directory) and gui_control_showcase (files in and out)
    cli_job = site.deadline(
        "bundle", "submit", str(SAMPLES / "cli_job"), *ids, "-p", f"DataDir={data}", "--yes"
    )
    showcase = site.deadline(
        "bundle", "submit", str(SAMPLES / "gui_control_showcase"), *ids,
        "-p", f"InputFilePicker={scene}", "-p", f"OutputFilePicker={tmp_path / 'renders' / 'out.exr'}",
        "-p", f"DirectoryPicker={data}", "--yes",
    )  # fmt: skip
    assert cli_job.returncode == 0 and showcase.returncode == 0, cli_job.stdout + showcase.stdout
    jobs = [re.findall(r"job-[0-9a-f]{32}", r.stdout)[-1] for r in (cli_job, showcase)]
    move_away(data)
    # Then the farmhand worker runs both on the uploaded files
    for job_id in jobs:
        assert site.wait("farmhand", job_id)["taskRunStatus"] == "SUCCEEDED", site.session_logs(
            "farmhand", job_id
        )
    log = site.session_logs("farmhand", jobs[1])
    [mapped] = re.findall(r"InputFilePicker value mapped locally:\s+(\S+)", log)
    assert "/assetroot-" in mapped and mapped.endswith("/scenes/shot.ma"), log  # a path in the session
    # And cli_job's output (its hashes of the inputs) comes back into the data directory
    done = site.farmhand("job", "download-output", *ids, "--job-id", jobs[0], "--yes")
    assert done.returncode == 0, done.stderr
    hashes = (data / "computed_hashes.txt").read_text()
    assert "one.txt" in hashes and "nested/two.txt" in hashes


DEPENDENT_TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "two steps",
    "parameterDefinitions": [
        {"name": "InFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"},
        {"name": "OutDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "OUT"},
    ],
    "steps": [
        {
            "name": "Make",
            "script": {
                "actions": {
                    "onRun": {
                        "command": "bash",
                        "args": [
                            "-c",
                            "mkdir -p '{{Param.OutDir}}'"
                            " && rev '{{Param.InFile}}' > '{{Param.OutDir}}/made.txt'",
                        ],
                    }
                }
            },
        },
        {
            "name": "Use",
            "dependencies": [{"dependsOn": "Make"}],
            "script": {
                "actions": {
                    "onRun": {
                        "command": "bash",
                        "args": [
                            "-c",
                            "tr a-z A-Z < '{{Param.OutDir}}/made.txt' > '{{Param.OutDir}}/used.txt'",
                        ],
                    }
                }
            },
        },
    ],
}


def test_a_step_reads_the_outputs_of_the_step_it_depends_on(site: AttachmentFarm, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "word.txt").write_text("stressed\n")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "template.json").write_text(json.dumps(DEPENDENT_TEMPLATE))
    project = {"InFile": str(root / "word.txt"), "OutDir": str(root / "out")}
    job_id = submit_with_library(site, "farmhand", project, bundle)
    move_away(root)
    job = site.wait("farmhand", job_id)
    assert job["taskRunStatus"] == "SUCCEEDED", site.session_logs("farmhand", job_id)
    syncs = [a for a in site.actions("farmhand", job_id) if "syncInputJobAttachments" in a["definition"]]
    assert any(a["definition"]["syncInputJobAttachments"].get("stepId") for a in syncs)
    done = site.farmhand("job", "download-output", *site.ids("farmhand"), "--job-id", job_id, "--yes")
    assert done.returncode == 0, done.stderr
    assert (root / "out" / "used.txt").read_text() == "DESSERTS\n"


def test_the_aws_cli_manifest_attachment_and_bundle_commands(site: AttachmentFarm, tmp_path: Path) -> None:
    ids = site.ids("farmhand")
    root = tmp_path / "assets"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("beta")
    (tmp_path / "m").mkdir()
    # `deadline manifest snapshot`, then `attachment upload` and `manifest upload` against the farm
    snap = site.deadline("manifest", "snapshot", "--root", str(root), "-d", str(tmp_path / "m"), "--json")
    assert snap.returncode == 0, snap.stdout + snap.stderr
    manifest = json.loads(snap.stdout[snap.stdout.index("{") :])["manifest"]
    up = site.deadline("attachment", "upload", "-m", manifest, "-r", str(root), *ids, "--json")
    assert up.returncode == 0, up.stdout + up.stderr
    s3 = site.server.client("s3")
    for content in (b"alpha", b"beta"):
        key = f"FarmhandQueue/Data/{xxhash.xxh3_128_hexdigest(content)}.xxh128"
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == content
    sent = site.deadline("manifest", "upload", manifest, "--s3-manifest-prefix", "aws-cli", *ids, "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert s3.head_object(Bucket=BUCKET, Key=f"FarmhandQueue/Manifests/aws-cli/{Path(manifest).name}")
    # `deadline bundle upload` and `bundle list --queue`
    bundle = write_bundle(tmp_path / "shared-bundle")
    shared = site.deadline("bundle", "upload", str(bundle), *ids, "--name", "upper", "--yes")
    assert shared.returncode == 0, shared.stdout + shared.stderr
    listed = site.deadline("bundle", "list", "--queue", *ids, "--output", "json")
    assert listed.returncode == 0 and "upper" in listed.stdout, listed.stdout + listed.stderr
    # And `deadline manifest download` of a farmhand job
    project = write_project(tmp_path / "project")
    job_id = submit_with_library(site, "farmhand", project, write_bundle(tmp_path / "bundle"))
    assert site.wait("farmhand", job_id)["taskRunStatus"] == "SUCCEEDED"
    (tmp_path / "dl").mkdir()
    got = site.deadline("manifest", "download", str(tmp_path / "dl"), *ids, "--job-id", job_id, "--json")
    assert got.returncode == 0, got.stdout + got.stderr
    assert list((tmp_path / "dl").rglob("*")), got.stdout


def test_a_sync_that_cannot_write_fails_naming_the_file(site: AttachmentFarm, tmp_path: Path) -> None:
    # Given an input larger than a worker may write (a file size limit stands in for a full disk)
    root = tmp_path / "project"
    project = write_project(root)
    (root / "scene.txt").write_bytes(b"x" * (3 * 1024 * 1024) + tmp_path.name.encode())
    job_id = submit_with_library(site, "aws", project, write_bundle(tmp_path / "bundle"))
    move_away(root)
    # When a farmhand worker with that limit serves the queue
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, hard))
    try:
        worker = WorkerProcess(
            site.server, site.farm.farm_id, site.fleets["aws"], tmp_path / "worker"
        ).start()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    try:
        job = site.wait("aws", job_id)
    finally:
        worker.stop()
    # Then the sync fails (it does not hang) and says which file it could not write
    assert job["taskRunStatus"] == "FAILED"
    summary = next(a for a in site.actions("aws", job_id) if "syncInputJobAttachments" in a["definition"])
    sync = site.farm.deadline.get_session_action(
        farmId=site.farm.farm_id,
        queueId=site.queues["aws"],
        jobId=job_id,
        sessionActionId=summary["sessionActionId"],
    )
    assert sync["status"] == "FAILED" and "File too large" in sync["progressMessage"], sync
    assert re.search(r"failed writing \S+/scene\.txt: File too large", sync["progressMessage"]), sync


def test_outputs_come_back_mapped_to_another_workstations_storage_profile(
    site: AttachmentFarm, tmp_path: Path
) -> None:
    deadline = site.farm.deadline
    farm_id = site.farm.farm_id

    def profile(name: str, path: Path) -> str:
        locations = [{"name": "Projects", "path": str(path), "type": "LOCAL"}]
        return str(
            deadline.create_storage_profile(
                farmId=farm_id, displayName=name, osFamily="LINUX", fileSystemLocations=locations
            )["storageProfileId"]
        )

    # Given two workstations whose "Projects" location is at different paths, and a queue allowing both
    here, there = (
        profile("here", tmp_path / "here" / "projects"),
        profile("there", tmp_path / "there" / "projects"),
    )
    queue_id = deadline.create_queue(
        farmId=farm_id,
        displayName="profiles",
        roleArn="arn:aws:iam::123456789012:role/profiles-queue",
        jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": "ProfilesQueue"},
        allowedStorageProfileIds=[here, there],
    )["queueId"]
    deadline.create_queue_fleet_association(farmId=farm_id, queueId=queue_id, fleetId=site.fleets["farmhand"])
    site.queues["profiles"] = queue_id
    # When the first submits a project under its location (the root is tagged with the location's name)
    root = tmp_path / "here" / "projects" / "shot"
    project = write_project(root)
    settings = config.read_config()
    config.set_setting("defaults.queue_id", queue_id, settings)
    config.set_setting("settings.storage_profile_id", here, settings)
    job_id = api.create_job_from_job_bundle(
        str(write_bundle(tmp_path / "bundle")),
        [{"name": name, "value": value} for name, value in project.items()],
        config=settings,
        interactive_confirmation_callback=lambda message, default: True,
        print_function_callback=lambda *_: None,
    )
    assert job_id is not None
    job = site.wait("profiles", job_id)
    assert job["taskRunStatus"] == "SUCCEEDED", site.session_logs("profiles", job_id)
    assert job["storageProfileId"] == here
    assert job["attachments"]["manifests"][0]["fileSystemLocationName"] == "Projects"
    # Then each CLI on the second workstation brings the outputs to its own "Projects" path
    saved = config.read_config()
    try:
        config.set_setting("settings.storage_profile_id", there)
        ids = ["--farm-id", farm_id, "--queue-id", queue_id, "--job-id", job_id, "--yes"]
        done = site.farmhand("job", "download-output", *ids)
        assert done.returncode == 0, done.stdout + done.stderr
        assert_outputs(tmp_path / "there" / "projects" / "shot")
        shutil.rmtree(tmp_path / "there")
        # (the AWS CLI 0.60.10 refuses mapped paths outside its working directory, so it runs from one above)
        done = subprocess.run(
            [DEADLINE_CLI, "job", "download-output", *ids],
            env=site.env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert_outputs(tmp_path / "there" / "projects" / "shot")
    finally:
        config.write_config(saved)
