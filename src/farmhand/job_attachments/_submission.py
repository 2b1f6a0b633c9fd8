"""Hashing and uploading a submission's asset roots, and the `attachments` CreateJob takes.

Per root: a manifest of its input files (hashed with the hash cache), the contents uploaded (what
the store already has is skipped), then the manifest itself under a fresh
`Manifests/<farm>/<queue>/Inputs/<guid>/`, after the data it lists, so a manifest the farm accepts
never names a missing object.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._grouping import AssetRootGroup, root_path_format
from ._hash_cache import HashCache
from ._layout import input_manifest_path
from ._manifest import Manifest
from ._progress import ProgressCallback, ProgressStatus, ProgressTracker, SummaryStatistics
from ._s3_check_cache import S3CheckCache
from ._snapshot import FileStat, snapshot, stat_files
from ._storage import ObjectStorage
from ._upload import ContentUpload, upload_contents

__all__ = ["HashedRoot", "hash_roots", "snapshot_roots", "stat_groups", "upload_roots"]


@dataclass
class HashedRoot:
    group: AssetRootGroup
    manifest: Manifest | None
    uploads: list[ContentUpload] = field(default_factory=list)

    def properties(self, path: str | None, digest: str | None) -> dict[str, Any]:
        """The `ManifestProperties` of this root (empty members left out, as the AWS client does)."""
        properties: dict[str, Any] = {"rootPath": self.group.root_path, "rootPathFormat": root_path_format()}
        if self.group.file_system_location_name:
            properties["fileSystemLocationName"] = self.group.file_system_location_name
        if path and digest:
            properties["inputManifestPath"] = path
            properties["inputManifestHash"] = digest
        outputs = self.group.output_relative_directories()
        if outputs:
            properties["outputRelativeDirectories"] = outputs
        return properties


def stat_groups(groups: Sequence[AssetRootGroup]) -> dict[str, list[FileStat]]:
    """The input files of each group (by root), stat-ed once for the confirmation and the hashing."""
    return {group.root_path: stat_files(sorted(group.inputs)) for group in groups}


def hash_roots(
    groups: Sequence[AssetRootGroup],
    *,
    hash_cache: HashCache | None,
    callback: ProgressCallback | None = None,
    stats: Mapping[str, Sequence[FileStat]] | None = None,
) -> tuple[SummaryStatistics, list[HashedRoot]]:
    """A manifest per group with inputs; one progress report over all of them."""
    stats = stats if stats is not None else stat_groups(groups)
    total_files = sum(len(s) for s in stats.values())
    total_bytes = sum(f.size for s in stats.values() for f in s)
    tracker = ProgressTracker(ProgressStatus.PREPARING_IN_PROGRESS, total_files, total_bytes, callback)
    hashed: list[HashedRoot] = []
    for group in groups:
        files = stats[group.root_path]
        if not files:
            hashed.append(HashedRoot(group, None))
            continue
        manifest, digests = snapshot(group.root_path, files, hash_cache=hash_cache, tracker=tracker)
        uploads = [ContentUpload(d.hash, d.path, d.size, d.mtime_ns) for d in digests]
        hashed.append(HashedRoot(group, manifest, uploads))
    return tracker.finish(), hashed


def upload_roots(
    storage: ObjectStorage,
    farm_id: str,
    queue_id: str,
    roots: Sequence[HashedRoot],
    *,
    check_cache: S3CheckCache | None,
    force_check: bool = False,
    callback: ProgressCallback | None = None,
    state_dir: Path | None = None,
) -> tuple[SummaryStatistics, list[dict[str, Any]]]:
    """Upload every root's contents, then its input manifest; the `attachments.manifests` list."""
    uploads = [upload for root in roots for upload in root.uploads]
    unique = {u.hash: u.size for u in uploads}
    tracker = ProgressTracker(ProgressStatus.UPLOAD_IN_PROGRESS, len(unique), sum(unique.values()), callback)
    summary = upload_contents(
        storage,
        uploads,
        check_cache=check_cache,
        force_check=force_check,
        tracker=tracker,
        state_dir=state_dir,
    )
    properties: list[dict[str, Any]] = []
    for root in roots:
        if root.manifest is None:
            properties.append(root.properties(None, None))
            continue
        path = input_manifest_path(farm_id, queue_id, root.group.root_path)
        data = root.manifest.encode()
        storage.put_bytes(storage.settings.manifest_key(path), data)
        properties.append(root.properties(path, root.manifest.hash))
    return summary, properties


def snapshot_roots(
    directory: Path, farm_id: str, queue_id: str, roots: Sequence[HashedRoot]
) -> list[dict[str, Any]]:
    """A debug snapshot: the objects an upload would store, written under `directory` instead."""
    properties: list[dict[str, Any]] = []
    for root in roots:
        for upload in root.uploads:
            target = directory / "Data" / f"{upload.hash}.xxh128"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(upload.path, target)
        if root.manifest is None:
            properties.append(root.properties(None, None))
            continue
        path = input_manifest_path(farm_id, queue_id, root.group.root_path)
        target = directory / "Manifests" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(root.manifest.encode())
        properties.append(root.properties(path, root.manifest.hash))
    return properties
