"""The AWS job-attachments library (the code the `deadline` CLI and worker agent run) uploads and
downloads through the farm's S3 endpoint: submission inputs, a worker's outputs, and reading both back."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from deadline.job_attachments import download
from deadline.job_attachments.models import JobAttachmentS3Settings
from deadline.job_attachments.upload import S3AssetManager, S3AssetUploader

from farmhand.testing import ServerProcess


@pytest.fixture
def ja_env(server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The library builds its clients from the session and the environment's endpoints."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    bucket = f"ja-{uuid.uuid4().hex[:16]}"
    server.boto3_session().client("s3", endpoint_url=server.url).create_bucket(Bucket=bucket)
    return server.boto3_session(), JobAttachmentS3Settings(s3BucketName=bucket, rootPrefix="DeadlineCloud")


def make_inputs(root: Path) -> dict[str, bytes]:
    files = {
        "scene.blend": os.urandom(9 * 1024 * 1024 + 123),  # multipart through the transfer manager
        "textures/wood.png": os.urandom(70_000),
        "textures/stone.png": os.urandom(300_000),
        "notes/empty.txt": b"",
        "notes/readme.txt": b"render me\n",
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_submission_inputs_upload_and_a_worker_downloads_them(ja_env: Any, tmp_path: Path) -> None:
    session, settings = ja_env
    source = tmp_path / "project"
    files = make_inputs(source)
    manager = S3AssetManager(
        farm_id="farm-0123", queue_id="queue-0123", job_attachment_settings=settings, session=session
    )
    groups = manager.prepare_paths_for_upload(
        input_paths=[str(source / name) for name in files],
        output_paths=[str(source / "renders")],
        referenced_paths=[],
    )
    _, manifests = manager.hash_assets_and_create_manifest(
        groups.asset_groups,
        groups.total_input_files,
        groups.total_input_bytes,
        hash_cache_dir=str(tmp_path / "hc"),
    )
    _, attachments = manager.upload_assets(manifests, s3_check_cache_dir=str(tmp_path / "cc"))
    [properties] = attachments.manifests
    assert properties.inputManifestPath and properties.inputManifestHash

    s3 = session.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
    data_keys = [
        c["Key"]
        for c in s3.list_objects_v2(Bucket=settings.s3BucketName, Prefix="DeadlineCloud/Data/")["Contents"]
    ]
    assert len(data_keys) == len(files)
    assert all(key.endswith(".xxh128") for key in data_keys)

    # A second submission of the same files finds them all present and uploads nothing.
    _, again = manager.upload_assets(manifests, s3_check_cache_dir=str(tmp_path / "cc2"))
    assert again.manifests[0].inputManifestHash == properties.inputManifestHash

    manifest = download.get_manifest_from_s3(
        f"DeadlineCloud/Manifests/{properties.inputManifestPath}", settings.s3BucketName, session
    )
    destination = tmp_path / "session" / "assetroot-0"
    download.download_files_from_manifests(
        settings.s3BucketName, {str(destination): manifest}, cas_prefix="DeadlineCloud/Data", session=session
    )
    for relative, data in files.items():
        assert (destination / relative).read_bytes() == data


def test_worker_outputs_are_found_and_downloaded_by_job(ja_env: Any, tmp_path: Path) -> None:
    session, settings = ja_env
    outputs_root = tmp_path / "session-outputs"
    (outputs_root / "renders").mkdir(parents=True)
    frames = {f"renders/frame_{n:04d}.exr": os.urandom(20_000 + n) for n in range(3)}
    for relative, data in frames.items():
        (outputs_root / relative).write_bytes(data)
    manager = S3AssetManager(
        farm_id="farm-1", queue_id="queue-1", job_attachment_settings=settings, session=session
    )
    groups = manager.prepare_paths_for_upload(
        input_paths=[str(outputs_root / name) for name in frames], output_paths=[], referenced_paths=[]
    )
    _, [root_manifest] = manager.hash_assets_and_create_manifest(
        groups.asset_groups,
        groups.total_input_files,
        groups.total_input_bytes,
        hash_cache_dir=str(tmp_path / "hc"),
    )
    assert root_manifest.asset_manifest is not None
    prefix = JobAttachmentS3Settings.partial_session_action_manifest_prefix(
        "farm-1", "queue-1", "job-1", "step-1", "task-1", "sessionaction-1-0", time.time()
    )
    S3AssetUploader(
        session=session, s3_max_pool_connections=50, small_file_threshold_multiplier=20
    ).upload_assets(
        settings,
        root_manifest.asset_manifest,
        source_root=Path(root_manifest.root_path),
        partial_manifest_prefix=prefix,
        manifest_name_suffix="output",
        manifest_metadata={"Metadata": {"asset-root": root_manifest.root_path}},
        s3_check_cache_dir=str(tmp_path / "cc"),
    )

    found = download.get_output_manifests_by_asset_root(
        settings, "farm-1", "queue-1", "job-1", session=session
    )
    assert list(found) == [root_manifest.root_path]
    target = tmp_path / "downloaded"
    merged = download.merge_asset_manifests(found[root_manifest.root_path])
    assert merged is not None
    download.download_files_from_manifests(
        settings.s3BucketName, {str(target): merged}, cas_prefix="DeadlineCloud/Data", session=session
    )
    for relative, data in frames.items():
        assert (target / Path(relative).relative_to("renders")).read_bytes() == data
