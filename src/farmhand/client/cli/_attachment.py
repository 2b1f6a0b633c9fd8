"""`farmhand attachment upload|download`: the files a manifest lists, to and from the queue's bucket.

The option names are the AWS CLI's (`deadline attachment ...`).
"""

from __future__ import annotations

import os

import click

from ._common import farm_option, load_config, profile_option, queue_option, region_option
from ._errors import CliUsageError
from ._output import emit_json, json_option

__all__ = ["attachment_group"]


@click.group("attachment")
def attachment_group() -> None:
    """Upload or download the files listed in manifests."""


def _pair(manifests: tuple[str, ...], roots: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each manifest with its root: given in the same order, or found by the root hash in its name."""
    from ...job_attachments import xxh128_hex

    if not roots:
        raise CliUsageError("give the root directory of each manifest with -r/--root-dirs")
    if len(roots) == len(manifests):
        by_hash = {xxh128_hex(root): root for root in roots}
        paired = []
        for index, manifest in enumerate(manifests):
            named = next((r for h, r in by_hash.items() if h in os.path.basename(manifest)), None)
            paired.append((manifest, named or roots[index]))
        return paired
    raise CliUsageError("give one -r/--root-dirs per -m/--manifests")


@attachment_group.command("upload")
@click.option("-m", "--manifests", "manifest_files", multiple=True, required=True, help="Manifest file(s).")
@click.option("-r", "--root-dirs", "root_dirs", multiple=True, help="The root directory of each manifest.")
@click.option("--s3-root-uri", help="s3://BUCKET/ROOT_PREFIX (default: the queue's attachment settings).")
@click.option("--upload-manifest-path", help="Also upload the manifests under Manifests/<this path>/.")
@farm_option
@region_option
@queue_option
@profile_option
@json_option
def attachment_upload(
    manifest_files: tuple[str, ...],
    root_dirs: tuple[str, ...],
    s3_root_uri: str | None,
    upload_manifest_path: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    profile: str | None,
    as_json: bool,
) -> None:
    """Upload the files the manifests list (what the bucket has already is skipped)."""
    from pathlib import Path

    from ...job_attachments import ContentUpload, S3CheckCache, default_cache_dir, upload_contents
    from ..attachments import read_manifest
    from ._manifest import attachment_storage
    from ._transfer_progress import TransferProgress

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id)
    items: list[ContentUpload] = []
    for manifest_file, root in _pair(manifest_files, root_dirs):
        manifest = read_manifest(manifest_file)
        for entry in manifest:
            path = os.path.join(root, *entry.path.split("/"))
            info = os.lstat(path)
            if info.st_size != entry.size:
                raise CliUsageError(f"{path} is {info.st_size} bytes, the manifest says {entry.size}")
            items.append(ContentUpload(entry.hash, path, entry.size, info.st_mtime_ns))
    with attachment_storage(config, s3_root_uri, "--s3-root-uri") as storage, TransferProgress() as progress:
        from ...job_attachments import ProgressStatus, ProgressTracker

        unique = {i.hash: i.size for i in items}
        tracker = ProgressTracker(
            ProgressStatus.UPLOAD_IN_PROGRESS, len(unique), sum(unique.values()), progress.uploading
        )
        summary = upload_contents(
            storage, items, check_cache=S3CheckCache(default_cache_dir()), tracker=tracker
        )
        uploaded_manifests = []
        if upload_manifest_path:
            for manifest_file in manifest_files:
                key = storage.settings.manifest_key(
                    f"{upload_manifest_path.strip('/')}/{os.path.basename(manifest_file)}"
                )
                storage.put_bytes(key, Path(manifest_file).read_bytes())
                uploaded_manifests.append(f"s3://{storage.bucket}/{key}")
    if as_json:
        emit_json(
            {
                "processedFiles": summary.processed_files,
                "processedBytes": summary.processed_bytes,
                "skippedFiles": summary.skipped_files,
                "manifests": uploaded_manifests,
            }
        )
    else:
        click.echo(f"Upload Summary:\n{summary}", err=True)


@attachment_group.command("download")
@click.option("-m", "--manifests", "manifest_files", multiple=True, required=True, help="Manifest file(s).")
@click.option("-r", "--root-dirs", "root_dirs", multiple=True, help="Where each manifest's files go.")
@click.option("--s3-root-uri", help="s3://BUCKET/ROOT_PREFIX (default: the queue's attachment settings).")
@farm_option
@region_option
@queue_option
@profile_option
@click.option(
    "--conflict-resolution",
    type=click.Choice(["skip", "overwrite", "create_copy"], case_sensitive=False),
    default="create_copy",
    show_default=True,
)
@json_option
def attachment_download(
    manifest_files: tuple[str, ...],
    root_dirs: tuple[str, ...],
    s3_root_uri: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    profile: str | None,
    conflict_resolution: str,
    as_json: bool,
) -> None:
    """Download the files the manifests list into their root directories."""
    from ...job_attachments import (
        FileToPlace,
        ProgressStatus,
        ProgressTracker,
        destination_in,
        download_files,
    )
    from ..attachments import read_manifest
    from ._manifest import attachment_storage
    from ._transfer_progress import TransferProgress

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id)
    placements = []
    for manifest_file, root in _pair(manifest_files, root_dirs):
        absolute = os.path.abspath(root)
        for entry in read_manifest(manifest_file):
            placements.append(
                (absolute, FileToPlace(entry, destination_in(absolute, entry.path), link=False))
            )
    total = sum(p.entry.size for _, p in placements)
    with attachment_storage(config, s3_root_uri, "--s3-root-uri") as storage, TransferProgress() as progress:
        tracker = ProgressTracker(
            ProgressStatus.DOWNLOAD_IN_PROGRESS, len(placements), total, progress.downloading
        )
        summary = download_files(storage, placements, tracker=tracker, conflict=conflict_resolution.upper())
    if as_json:
        emit_json({"processedFiles": summary.processed_files, "downloadedFiles": summary.downloaded_files})
    else:
        click.echo(f"Download Summary:\n{summary}", err=True)
