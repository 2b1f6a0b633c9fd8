"""`farmhand manifest snapshot|diff|upload|download`: job-attachment manifests as files.

The option names are the AWS CLI's (`deadline manifest ...`).
"""

from __future__ import annotations

import os
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import click

from ._common import farm_option, load_config, profile_option, queue_option, region_option
from ._errors import CliUsageError
from ._output import emit_json, json_option

__all__ = ["attachment_storage", "manifest_group"]


@click.group("manifest")
def manifest_group() -> None:
    """Snapshot directories into manifests, compare, upload and download them."""


def _include_exclude(
    includes: tuple[str, ...], excludes: tuple[str, ...], config: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not config:
        return includes, excludes
    import json

    text = Path(config).read_text() if os.path.isfile(config) else config
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CliUsageError(f"--include-exclude-config is not JSON: {error}") from error
    return (*includes, *document.get("include", [])), (*excludes, *document.get("exclude", []))


def attachment_storage(config: ConfigParser, s3_uri: str | None, option_name: str) -> Any:
    """The bucket and prefix of `--s3-cas-uri`/`--s3-root-uri` (profile credentials), else the queue's."""
    from ...job_attachments import ObjectStorage, StorageSettings
    from .. import api
    from ..attachments import queue_storage
    from ._common import require_farm_id, require_queue_id

    if s3_uri:
        if not s3_uri.startswith("s3://") or "/" not in s3_uri[5:]:
            raise CliUsageError(f"{option_name} must look like s3://BUCKET/ROOT_PREFIX")
        bucket, _, prefix = s3_uri[5:].partition("/")
        return ObjectStorage(api.get_boto3_session(config=config), StorageSettings(bucket, prefix.strip("/")))
    farm, queue = require_farm_id(config), require_queue_id(config)
    return queue_storage(api.get_boto3_client("deadline", config), config, farm, queue)


_INCLUDE = click.option("-i", "--include", "includes", multiple=True, help="Glob of files to include.")
_EXCLUDE = click.option("-e", "--exclude", "excludes", multiple=True, help="Glob of files to leave out.")
_CONFIG = click.option(
    "-ie", "--include-exclude-config", help='JSON (or a JSON file) {"include": [...], "exclude": [...]}.'
)


@manifest_group.command("snapshot")
@click.option("--root", required=True, help="The root directory to snapshot.")
@click.option("-d", "--destination", help="Directory to write the manifest to (default: the root).")
@click.option("-n", "--name", help="Name of the manifest (a time stamp is added).")
@_INCLUDE
@_EXCLUDE
@_CONFIG
@click.option("--force-rehash", is_flag=True, help="Hash every file, ignoring the hash cache.")
@click.option("--diff", "diff_manifest", help="Only files new or changed since this manifest.")
@json_option
def manifest_snapshot(
    root: str,
    destination: str | None,
    name: str | None,
    includes: tuple[str, ...],
    excludes: tuple[str, ...],
    include_exclude_config: str | None,
    force_rehash: bool,
    diff_manifest: str | None,
    as_json: bool,
) -> None:
    """Write the manifest of a directory (paths, sizes, mtimes, xxh128 hashes)."""
    from ..attachments import read_manifest, snapshot_directory

    if not os.path.isdir(root):
        raise CliUsageError(f"--root {root} is not a directory")
    includes, excludes = _include_exclude(includes, excludes, include_exclude_config)
    against = read_manifest(diff_manifest) if diff_manifest else None
    path, manifest = snapshot_directory(
        root,
        destination,
        name=name,
        includes=includes,
        excludes=excludes,
        force_rehash=force_rehash,
        against=against,
    )
    if as_json:
        emit_json({"root": root, "manifest": path})
    elif path is None:
        click.echo("No files to put in a manifest.", err=True)
    else:
        click.echo(f"Manifest of {len(manifest or [])} files generated at {path}")


@manifest_group.command("diff")
@click.option("--root", required=True, help="The root directory to compare.")
@click.option("--manifest", "manifest_file", required=True, help="The manifest to compare against.")
@_INCLUDE
@_EXCLUDE
@_CONFIG
@click.option("--force-rehash", is_flag=True, help="Compare contents too, not only sizes and mtimes.")
@json_option
def manifest_diff(
    root: str,
    manifest_file: str,
    includes: tuple[str, ...],
    excludes: tuple[str, ...],
    include_exclude_config: str | None,
    force_rehash: bool,
    as_json: bool,
) -> None:
    """Files of ROOT that are new, modified or deleted since the manifest."""
    from ..attachments import diff_directory, read_manifest

    includes, excludes = _include_exclude(includes, excludes, include_exclude_config)
    diff = diff_directory(
        root, read_manifest(manifest_file), includes=includes, excludes=excludes, force_rehash=force_rehash
    )
    if as_json:
        emit_json({"new": diff.new, "modified": diff.modified, "deleted": diff.deleted})
        return
    for label, paths in (("new", diff.new), ("modified", diff.modified), ("deleted", diff.deleted)):
        for path in paths:
            click.echo(f"{label:9} {path}")
    if not (diff.new or diff.modified or diff.deleted):
        click.echo("No differences.")


@manifest_group.command("upload")
@click.argument("manifest_file", type=click.Path(exists=True, dir_okay=False))
@profile_option
@click.option("--s3-cas-uri", help="s3://BUCKET/ROOT_PREFIX of the content-addressed store.")
@click.option("--s3-manifest-prefix", help="Sub-path under Manifests/ to upload to.")
@farm_option
@queue_option
@region_option
@json_option
def manifest_upload(
    manifest_file: str,
    profile: str | None,
    s3_cas_uri: str | None,
    s3_manifest_prefix: str | None,
    farm_id: str | None,
    queue_id: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Upload a manifest file to `<root prefix>/Manifests/[PREFIX/]<file name>`."""
    from ..attachments import read_manifest

    manifest = read_manifest(manifest_file)
    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id)
    with attachment_storage(config, s3_cas_uri, "--s3-cas-uri") as storage:
        parts = [p for p in ((s3_manifest_prefix or "").strip("/"), os.path.basename(manifest_file)) if p]
        key = storage.settings.manifest_key("/".join(parts))
        storage.put_bytes(key, Path(manifest_file).read_bytes())
    if as_json:
        emit_json({"manifest": f"s3://{storage.bucket}/{key}", "hash": manifest.hash})
    else:
        click.echo(f"Uploaded {manifest_file} to s3://{storage.bucket}/{key}")


@manifest_group.command("download")
@click.argument("download_dir", type=click.Path(file_okay=False))
@profile_option
@click.option("--job-id", required=True, help="The job whose manifests to download.")
@click.option("--step-id", help="Only this step's output manifests.")
@farm_option
@queue_option
@region_option
@click.option(
    "--asset-type",
    type=click.Choice(["input", "output", "all"], case_sensitive=False),
    default="all",
    show_default=True,
)
@json_option
def manifest_download(
    download_dir: str,
    profile: str | None,
    job_id: str,
    step_id: str | None,
    farm_id: str | None,
    queue_id: str | None,
    region: str | None,
    asset_type: str,
    as_json: bool,
) -> None:
    """Download a job's input manifests and/or its merged output manifests (one file per root)."""
    from ...job_attachments import xxh128_hex
    from ..attachments import plan_job_input, plan_job_output
    from ._common import require_farm_id, require_queue_id

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id)
    farm, queue = require_farm_id(config), require_queue_id(config)
    written: list[dict[str, str]] = []
    os.makedirs(download_dir, exist_ok=True)
    kinds = ["input", "output"] if asset_type.lower() == "all" else [asset_type.lower()]
    for kind in kinds:
        if kind == "input":
            plan = plan_job_input(
                farm_id=farm, queue_id=queue, job_id=job_id, config=config, ignore_storage_profiles=True
            )
        else:
            plan = plan_job_output(
                farm_id=farm,
                queue_id=queue,
                job_id=job_id,
                step_id=step_id,
                config=config,
                ignore_storage_profiles=True,
            )
        plan.storage.close()
        for local, manifest in plan.manifests.items():
            root = plan.job_roots.get(local, local)
            target = os.path.join(download_dir, f"{xxh128_hex(root)}_{kind}.manifest")
            Path(target).write_bytes(manifest.encode())
            written.append({"root": root, "type": kind, "path": target})
    if as_json:
        emit_json({"manifests": written})
    else:
        for item in written:
            click.echo(f"{item['type']:6} {item['root']} -> {item['path']}")
