"""Job attachments on this worker: inputs synced into the session, outputs uploaded after task runs.

* `syncInputJobAttachments {}`: every input manifest of the job is fetched, and its files are placed
  under the root's local directory: `<session>-attachments/assetroot-<shake256 of the root>`, or
  where the service's path-mapping rules send a root tagged with a storage-profile location. Files
  come from the host's content cache (hard links), and only what it lacks crosses the network.
* `syncInputJobAttachments {stepId}`: the latest outputs of the step's dependencies, the same way.
* After a successful task run: files under the roots' `outputRelativeDirectories` that are new or
  differ (size, mtime) from what the session synced are hashed and uploaded with an output
  manifest, in the AWS layout, and the task run is reported with its `manifests`.
Anything that cannot complete (a missing or corrupt object, a path leaving its root, a full disk)
fails the action with a message naming it; every network call has a timeout.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from openjd.sessions import PathFormat, PathMappingRule

from ..job_attachments import (
    ContentCache,
    ContentUpload,
    FileToPlace,
    JobAttachmentsError,
    Manifest,
    ManifestEntry,
    ObjectStorage,
    ProgressReportMetadata,
    ProgressStatus,
    ProgressTracker,
    StorageSettings,
    TransferCancelledError,
    destination_in,
    download_files,
    fetch_output_manifests,
    list_files,
    merge_by_root,
    output_manifest_metadata,
    output_manifest_prefix,
    output_manifest_root,
    select_output_manifest_keys,
    session_root_directory_name,
    snapshot,
    stat_files,
    upload_contents,
    xxh128_hex,
)

__all__ = ["AttachmentSyncError", "SessionAttachments"]

log = logging.getLogger("farmhand.worker")

MANIFEST_READ_LIMIT = 256 * 1024 * 1024  # larger manifests are read through S3 like any other


class AttachmentSyncError(Exception):
    """An attachment action that cannot complete; the message names the object or path."""


@dataclass
class _Root:
    """One manifest of the job's attachments and where its files are on this worker."""

    properties: dict[str, Any]
    local: str
    synced: dict[str, ManifestEntry] = field(default_factory=dict)

    @property
    def root_path(self) -> str:
        return str(self.properties["rootPath"])

    @property
    def location_name(self) -> str | None:
        value = self.properties.get("fileSystemLocationName")
        return str(value) if value else None

    def output_directories(self) -> list[str]:
        """outputRelativeDirectories as local relative paths (a Windows root's use backslashes)."""
        windows = self.properties.get("rootPathFormat") == "windows"
        converted = []
        for directory in self.properties.get("outputRelativeDirectories") or []:
            parts = (PureWindowsPath if windows else PurePosixPath)(str(directory)).parts
            converted.append(os.path.join(*parts) if parts else ".")
        return converted


def _rule(source_format: str, source: str, destination: str) -> PathMappingRule:
    windows = source_format == "windows"
    return PathMappingRule(
        source_path_format=PathFormat.WINDOWS if windows else PathFormat.POSIX,
        source_path=PureWindowsPath(source) if windows else PurePosixPath(source),
        destination_path=PurePosixPath(destination),
    )


class SessionAttachments:
    """The attachments of one session's job: where each root lives here, what was synced, outputs."""

    def __init__(
        self,
        *,
        attachments: Mapping[str, Any],
        settings: StorageSettings,
        service_rules: Sequence[Mapping[str, str]],
        directory: Path,
        farm_id: str,
        queue_id: str,
        job_id: str,
        session_factory: Callable[[], Any],
        cache: ContentCache | None,
        write_log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.farm_id, self.queue_id, self.job_id = farm_id, queue_id, job_id
        self._session_factory = session_factory
        self._storage: ObjectStorage | None = None
        self.cache = cache
        self.write_log = write_log
        self.synced = False
        mapped = {str(rule["sourcePath"]): str(rule["destinationPath"]) for rule in service_rules}
        self.roots: list[_Root] = []
        self.rules: list[PathMappingRule] = []
        for properties in attachments.get("manifests") or []:
            root_path = str(properties["rootPath"])
            if properties.get("fileSystemLocationName") and service_rules:
                if root_path not in mapped:
                    raise AttachmentSyncError(
                        f"No path mapping rule found for the source path {root_path} "
                        f"(location {properties['fileSystemLocationName']})"
                    )
                local = mapped[root_path]
            else:
                local = str(directory / session_root_directory_name(root_path))
                self.rules.append(_rule(str(properties.get("rootPathFormat", "posix")), root_path, local))
            self.roots.append(_Root(dict(properties), local))
        self._job_roots = len(self.roots)  # roots of dependency outputs come after these

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def storage(self) -> ObjectStorage:
        if self._storage is None:
            self._storage = ObjectStorage(self._session_factory(), self.settings)
        return self._storage

    def close(self) -> None:
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def remove_directory(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _reporter(self, what: str, stopped: Callable[[], bool]) -> Callable[[ProgressReportMetadata], bool]:
        last = [0.0]

        def report(progress: ProgressReportMetadata) -> bool:
            now = time.monotonic()
            if now - last[0] >= 5.0 or progress.progress >= 100.0:
                last[0] = now
                self.write_log(f"{what}: {progress.progressMessage}")
            return not stopped()

        return report

    # -- input sync ------------------------------------------------------------------------------

    def sync_inputs(self, stopped: Callable[[], bool]) -> None:
        """The job's input manifests into their local roots."""
        started = time.monotonic()
        placements: list[tuple[str, FileToPlace]] = []
        for root in self.roots:
            path = root.properties.get("inputManifestPath")
            os.makedirs(root.local, exist_ok=True)
            if not path:
                continue
            key = self.settings.manifest_key(str(path))
            name = f"input manifest s3://{self.settings.bucket}/{key}"
            try:
                data = self._manifest_bytes(key)
                expected = str(root.properties.get("inputManifestHash") or "")
                if expected and xxh128_hex(data) != expected.lower():
                    raise AttachmentSyncError(
                        f"{name} is not the manifest the job was submitted with "
                        f"(its xxh128 is not {expected})"
                    )
                manifest = Manifest.decode(data, name=name)
            except JobAttachmentsError as error:
                raise AttachmentSyncError(str(error)) from error
            placements += self._placements(root, manifest)
        self._download(placements, "Syncing job attachments", stopped)
        self.synced = True
        took = time.monotonic() - started
        self.write_log(f"Synced {len(placements)} input files of {len(self.roots)} roots in {took:.2f} s")

    def _manifest_bytes(self, key: str) -> bytes:
        """A manifest, read from the farm's store files on the farm's own host (no S3 client to
        build, no request), else through S3."""
        farm = self.cache.farm_objects if self.cache is not None else None
        if farm is not None:
            data = farm.read(self.settings.bucket, key, MANIFEST_READ_LIMIT)
            if data is not None:
                return data
        return self.storage.get_bytes(key)[0]

    def sync_step_dependencies(self, dependencies: Sequence[str], stopped: Callable[[], bool]) -> None:
        """The latest outputs of each dependency step into the roots they were written under."""
        if not self.synced:
            raise AttachmentSyncError(
                "Job attachments must be synchronized before downloading Step dependencies"
            )
        placements: list[tuple[str, FileToPlace]] = []
        for step_id in dependencies:
            prefix = self.settings.job_output_prefix(self.farm_id, self.queue_id, self.job_id, step_id)
            try:
                objects = select_output_manifest_keys(
                    self.storage.list(prefix),
                    self.settings.job_output_prefix(self.farm_id, self.queue_id, self.job_id),
                )
                outputs = fetch_output_manifests(self.storage, [o.key for o in objects])
            except JobAttachmentsError as error:
                raise AttachmentSyncError(str(error)) from error
            for root_path, manifest in merge_by_root(outputs).items():
                root = next((r for r in self.roots if r.root_path == root_path), None)
                if root is None:
                    local = str(self.directory / session_root_directory_name(root_path))
                    root = _Root({"rootPath": root_path}, local)
                    self.roots.append(root)
                placements += self._placements(root, manifest)
        self._download(placements, "Syncing step dependencies", stopped)
        self.write_log(f"Synced {len(placements)} output files of {len(dependencies)} dependency steps")

    def _placements(self, root: _Root, manifest: Manifest) -> list[tuple[str, FileToPlace]]:
        outputs = root.output_directories()
        placements = []
        for entry in manifest:
            try:
                destination = destination_in(root.local, entry.path)
            except JobAttachmentsError as error:
                raise AttachmentSyncError(f"root {root.root_path}: {error}") from error
            local_relative = os.path.relpath(destination, root.local)
            # Files where the task writes its outputs are copied, so writing them never reaches the cache.
            in_outputs = any(d == "." or local_relative.startswith(d + os.sep) for d in outputs)
            placements.append((root.local, FileToPlace(entry, destination, link=not in_outputs)))
            root.synced[entry.path] = entry
        return placements

    def _download(
        self, placements: list[tuple[str, FileToPlace]], what: str, stopped: Callable[[], bool]
    ) -> None:
        if not placements:
            return
        total = sum(p.entry.size for _, p in placements)
        tracker = ProgressTracker(
            ProgressStatus.DOWNLOAD_IN_PROGRESS, len(placements), total, self._reporter(what, stopped)
        )
        try:
            summary = download_files(self.storage, placements, cache=self.cache, tracker=tracker)
        except TransferCancelledError as error:
            raise AttachmentSyncError(f"{what} was canceled") from error
        except JobAttachmentsError as error:
            raise AttachmentSyncError(str(error)) from error
        except OSError as error:
            raise AttachmentSyncError(
                f"{what} failed writing {error.filename or ''}: {error.strerror or error}"
            ) from error
        self.write_log(
            f"{what}: {summary.processed_files} files ({summary.processed_bytes} bytes) downloaded, "
            f"{summary.skipped_files} from this host's cache ({summary.linked_files} linked)"
        )

    # -- outputs ---------------------------------------------------------------------------------

    def upload_outputs(
        self,
        *,
        step_id: str,
        task_id: str | None,
        session_action_id: str,
        started_at: dt.datetime,
        stopped: Callable[[], bool],
    ) -> list[dict[str, str]]:
        """Upload new or changed output files; the task run's `manifests` (one entry per root)."""
        prefix = output_manifest_prefix(
            self.farm_id, self.queue_id, self.job_id, step_id, task_id, started_at, session_action_id
        )
        reported: list[dict[str, str]] = []
        for root in self.roots[: self._job_roots]:
            reported.append(self._upload_root(root, prefix, stopped))
        return reported

    def _upload_root(self, root: _Root, prefix: str, stopped: Callable[[], bool]) -> dict[str, str]:
        candidates: list[str] = []
        for directory in root.output_directories():
            base = os.path.normpath(os.path.join(root.local, directory))
            if os.path.isdir(base):
                candidates += list_files(base)
        changed = []
        for item in stat_files(sorted(set(candidates))):
            relative = os.path.relpath(item.path, root.local).replace(os.sep, "/")
            before = root.synced.get(relative)
            if before is None or before.size != item.size or before.mtime != item.mtime_ns // 1000:
                changed.append(item)
        if not changed:
            return {}
        try:
            manifest, digests = snapshot(root.local, changed)
            tracker = ProgressTracker(
                ProgressStatus.UPLOAD_IN_PROGRESS,
                len(digests),
                sum(d.size for d in digests),
                self._reporter("Uploading outputs", stopped),
            )
            upload_contents(
                self.storage,
                [ContentUpload(d.hash, d.path, d.size, d.mtime_ns) for d in digests],
                tracker=tracker,
            )
            path = f"{prefix}/{output_manifest_root(root.root_path, root.location_name)}"
            data = manifest.encode()
            self.storage.put_bytes(
                self.settings.manifest_key(path),
                data,
                metadata=output_manifest_metadata(root.root_path, root.location_name),
            )
        except TransferCancelledError as error:
            raise AttachmentSyncError("the output upload was canceled") from error
        except JobAttachmentsError as error:
            raise AttachmentSyncError(str(error)) from error
        except OSError as error:
            raise AttachmentSyncError(
                f"reading output {error.filename or ''} failed: {error.strerror or error}"
            ) from error
        for entry in manifest:
            root.synced[entry.path] = entry  # a later task run in this session re-uploads only new changes
        self.write_log(
            f"Uploaded {len(manifest)} output files of {root.root_path} ({manifest.total_size} bytes)"
        )
        return {"outputManifestPath": path, "outputManifestHash": manifest.hash}
