"""A job's outputs (the latest task runs', merged per root) or its inputs, onto this workstation.

Outputs are found as the AWS CLI finds them (listing the job's manifest prefix, or the step's,
or the task's latest session action), so outputs written by either worker come back. Roots are
mapped through the storage profiles when the job was submitted with another profile than this
workstation's; otherwise files go back where the submitter had them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from configparser import ConfigParser
from dataclasses import dataclass, field
from typing import Any

from ...job_attachments import (
    ConflictResolution,
    DownloadSummary,
    FileToPlace,
    JobAttachmentsError,
    Manifest,
    ObjectStorage,
    ProgressCallback,
    ProgressStatus,
    ProgressTracker,
    StorageSettings,
    destination_in,
    download_files,
    fetch_output_manifests,
    map_path,
    merge_by_root,
    root_path_format,
    rules_between,
    select_output_manifest_keys,
)
from ..api import get_boto3_client, get_queue_user_boto3_session
from ..config import get_setting
from ..exceptions import DeadlineOperationError

__all__ = [
    "DownloadPlan",
    "local_roots",
    "plan_job_input",
    "plan_job_output",
    "queue_storage",
    "run_plan",
]


@dataclass
class DownloadPlan:
    """What a download would write: manifests by local root, and the roots as the job knew them."""

    storage: ObjectStorage
    manifests: dict[str, Manifest] = field(default_factory=dict)
    job_roots: dict[str, str] = field(default_factory=dict)  # local root -> root in the job

    @property
    def file_count(self) -> int:
        return sum(len(m) for m in self.manifests.values())

    @property
    def total_bytes(self) -> int:
        return sum(m.total_size for m in self.manifests.values())

    def describe(self) -> str:
        lines = [f"{self.file_count} file(s), {self.total_bytes} bytes, into:"]
        for local, manifest in sorted(self.manifests.items()):
            origin = self.job_roots.get(local, local)
            mapped = f" (the job's {origin})" if origin != local else ""
            lines.append(f"    {local}{mapped}: {len(manifest)} file(s)")
        return "\n".join(lines)


def queue_storage(deadline: Any, config: ConfigParser | None, farm_id: str, queue_id: str) -> ObjectStorage:
    """The queue's attachment bucket, with the queue role's credentials for users."""
    queue = deadline.get_queue(farmId=farm_id, queueId=queue_id)
    settings = StorageSettings.from_queue(queue)
    if settings is None:
        raise DeadlineOperationError(
            f"Queue {queue_id} has no job attachment settings (jobAttachmentSettings)"
        )
    session = get_queue_user_boto3_session(deadline, config, farm_id, queue_id, queue["displayName"])
    return ObjectStorage(session, settings)


def local_roots(
    deadline: Any,
    config: ConfigParser | None,
    farm_id: str,
    queue_id: str,
    job: dict[str, Any],
    roots: list[tuple[str, str]],
    ignore_storage_profiles: bool,
) -> dict[str, str]:
    """Job root -> local root (storage-profile mapping when the profiles differ)."""
    local_profile_id = get_setting("settings.storage_profile_id", config)
    job_profile_id = job.get("storageProfileId")
    rules = []
    if (
        not ignore_storage_profiles
        and job_profile_id
        and local_profile_id
        and job_profile_id != local_profile_id
    ):
        profiles = [
            deadline.get_storage_profile_for_queue(farmId=farm_id, queueId=queue_id, storageProfileId=pid)
            for pid in (job_profile_id, local_profile_id)
        ]
        rules = rules_between(profiles[0], profiles[1])
    mapped: dict[str, str] = {}
    for root, path_format in roots:
        if rules:
            local = map_path(rules, root, path_format)
            if local is None:
                raise DeadlineOperationError(
                    f"No path mapping rule of storage profile {local_profile_id} covers {root}; "
                    "use --ignore-storage-profiles to download to the job's paths"
                )
            mapped[root] = local
        elif path_format != root_path_format() and not ignore_storage_profiles:
            raise DeadlineOperationError(
                f"The job's root {root} is a {path_format} path; set settings.storage_profile_id to a "
                "storage profile of this workstation to map it"
            )
        else:
            mapped[root] = root
    return mapped


def plan_job_output(
    *,
    farm_id: str,
    queue_id: str,
    job_id: str,
    step_id: str | None = None,
    task_id: str | None = None,
    config: ConfigParser | None = None,
    ignore_storage_profiles: bool = False,
) -> DownloadPlan:
    """Find the job's output manifests (latest per task) and where their files go here."""
    if task_id and not step_id:
        raise DeadlineOperationError("--task-id needs --step-id")
    deadline = get_boto3_client("deadline", config)
    job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
    if not (job.get("attachments") or {}).get("manifests"):
        raise DeadlineOperationError(f"Job {job_id} has no job attachments, so it has no outputs to download")
    storage = queue_storage(deadline, config, farm_id, queue_id)
    settings = storage.settings
    job_prefix = settings.job_output_prefix(farm_id, queue_id, job_id)
    try:
        if task_id:
            assert step_id is not None
            task = deadline.get_task(
                farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step_id, taskId=task_id
            )
            action = task.get("latestSessionActionId")
            if not action:
                raise DeadlineOperationError(f"Task {task_id} has not run yet")
            objects = [
                o
                for o in storage.list(settings.job_output_prefix(farm_id, queue_id, job_id, step_id, task_id))
                if action in o.key and "output" in o.key.rsplit("/", 1)[-1]
            ]
            if not objects:
                objects = [
                    o
                    for o in storage.list(settings.job_output_prefix(farm_id, queue_id, job_id, step_id))
                    if action in o.key and "output" in o.key.rsplit("/", 1)[-1]
                ]
        else:
            listed = storage.list(settings.job_output_prefix(farm_id, queue_id, job_id, step_id))
            objects = select_output_manifest_keys(listed, job_prefix)
        outputs = fetch_output_manifests(storage, [o.key for o in objects])
    except JobAttachmentsError as error:
        storage.close()
        raise DeadlineOperationError(str(error)) from error
    formats = {
        str(m["rootPath"]): str(m.get("rootPathFormat", "posix")) for m in job["attachments"]["manifests"]
    }
    merged = merge_by_root(outputs)
    roots = [(root, formats.get(root, root_path_format())) for root in merged]
    local = local_roots(deadline, config, farm_id, queue_id, job, roots, ignore_storage_profiles)
    plan = DownloadPlan(storage)
    for root, manifest in merged.items():
        plan.manifests[local[root]] = manifest
        plan.job_roots[local[root]] = root
    return plan


def plan_job_input(
    *,
    farm_id: str,
    queue_id: str,
    job_id: str,
    destination: str | None = None,
    config: ConfigParser | None = None,
    ignore_storage_profiles: bool = False,
) -> DownloadPlan:
    """The job's input manifests, to their roots (or to `destination/<root's last part>`)."""
    deadline = get_boto3_client("deadline", config)
    job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
    manifests = [
        m for m in (job.get("attachments") or {}).get("manifests") or [] if m.get("inputManifestPath")
    ]
    if not manifests:
        raise DeadlineOperationError(f"Job {job_id} has no input files in its job attachments")
    storage = queue_storage(deadline, config, farm_id, queue_id)
    roots = [(str(m["rootPath"]), str(m.get("rootPathFormat", "posix"))) for m in manifests]
    if destination:
        local = {root: os.path.join(destination, f"root{index}") for index, (root, _) in enumerate(roots)}
    else:
        local = local_roots(deadline, config, farm_id, queue_id, job, roots, ignore_storage_profiles)
    plan = DownloadPlan(storage)
    try:
        for properties in manifests:
            key = storage.settings.manifest_key(str(properties["inputManifestPath"]))
            data = storage.get_bytes(key)[0]
            manifest = Manifest.decode(data, name=f"s3://{storage.bucket}/{key}")
            root = str(properties["rootPath"])
            plan.manifests[local[root]] = manifest
            plan.job_roots[local[root]] = root
    except JobAttachmentsError as error:
        storage.close()
        raise DeadlineOperationError(str(error)) from error
    return plan


def run_plan(
    plan: DownloadPlan,
    *,
    conflict: str = ConflictResolution.CREATE_COPY,
    callback: ProgressCallback | None = None,
    confirm: Callable[[DownloadPlan], bool] | None = None,
) -> DownloadSummary:
    """Download every file of the plan (after `confirm` agrees); refuses paths that would leave their root."""
    if confirm is not None and not confirm(plan):
        plan.storage.close()
        raise DeadlineOperationError("Download canceled.")
    try:
        placements = [
            (root, FileToPlace(entry, destination_in(root, entry.path), link=False))
            for root, manifest in plan.manifests.items()
            for entry in manifest
        ]
        tracker = ProgressTracker(
            ProgressStatus.DOWNLOAD_IN_PROGRESS, len(placements), plan.total_bytes, callback
        )
        return download_files(plan.storage, placements, tracker=tracker, conflict=conflict.upper())
    except JobAttachmentsError as error:
        raise DeadlineOperationError(str(error)) from error
    finally:
        plan.storage.close()
