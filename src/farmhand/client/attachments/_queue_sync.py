"""`queue sync-output`: every output written in a queue since the last run, onto this workstation.

Task runs that ended since the checkpoint (or the bootstrap look-back) are found through
SearchJobs, ListSessions and ListSessionActions; their `manifests` name the output manifests
(a run whose worker reported none has its job's output manifests listed instead). The newest end
time seen is kept in a checkpoint file per queue, so the next run starts where this one stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from configparser import ConfigParser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...job_attachments import (
    ConflictResolution,
    JobAttachmentsError,
    Manifest,
    ProgressCallback,
    default_cache_dir,
    fetch_output_manifests,
    merge_by_root,
    root_path_format,
    select_output_manifest_keys,
)
from ..api import get_boto3_client
from ..exceptions import DeadlineOperationError
from ._job_transfers import DownloadPlan, local_roots, queue_storage, run_plan

__all__ = ["QueueSyncResult", "default_checkpoint_dir", "sync_queue_output"]


def default_checkpoint_dir() -> Path:
    return default_cache_dir() / "farmhand-sync-output"


@dataclass
class QueueSyncResult:
    since: dt.datetime
    until: dt.datetime
    jobs: dict[str, int] = field(default_factory=dict)  # job id -> files downloaded (or to download)
    files: int = 0


def _every(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


_ACTIVE = ["READY", "ASSIGNED", "STARTING", "SCHEDULED", "RUNNING"]


def _search(deadline: Any, farm_id: str, queue_id: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = deadline.search_jobs(
            farmId=farm_id, queueIds=[queue_id], itemOffset=offset, pageSize=100, filterExpressions=filters
        )
        jobs += page.get("jobs", [])
        offset = page.get("nextItemOffset")
    return jobs


def _candidate_jobs(deadline: Any, farm_id: str, queue_id: str, since: dt.datetime) -> list[dict[str, Any]]:
    """Active jobs and jobs that ended since `since`, with at least one succeeded task and attachments."""
    active = {"stringListFilter": {"name": "TASK_RUN_STATUS", "operator": "ANY_EQUALS", "values": _ACTIVE}}
    ended = {"dateTimeFilter": {"name": "ENDED_AT", "operator": "GREATER_THAN_EQUAL_TO", "dateTime": since}}
    jobs: dict[str, dict[str, Any]] = {}
    for found in (
        _search(deadline, farm_id, queue_id, {"filters": [active], "operator": "OR"}),
        _search(deadline, farm_id, queue_id, {"filters": [ended], "operator": "AND"}),
    ):
        for job in found:
            if (job.get("taskRunStatusCounts") or {}).get("SUCCEEDED", 0) > 0:
                jobs[job["jobId"]] = job
    chosen = []
    for job in jobs.values():
        if "attachments" not in job:
            job = dict(deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job["jobId"]))
        if (job.get("attachments") or {}).get("manifests"):
            chosen.append(job)
    return chosen


def sync_queue_output(
    *,
    farm_id: str,
    queue_id: str,
    config: ConfigParser | None = None,
    checkpoint_dir: Path | None = None,
    bootstrap_lookback_minutes: float = 0.0,
    force_bootstrap: bool = False,
    ignore_storage_profiles: bool = False,
    conflict: str = ConflictResolution.OVERWRITE,
    dry_run: bool = False,
    callback: ProgressCallback | None = None,
    print_function: Callable[[str], Any] = print,
) -> QueueSyncResult:
    deadline = get_boto3_client("deadline", config)
    directory = checkpoint_dir or default_checkpoint_dir()
    checkpoint = directory / f"{queue_id}_download_checkpoint.json"
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(minutes=bootstrap_lookback_minutes)
    if checkpoint.exists() and not force_bootstrap:
        try:
            since = dt.datetime.fromisoformat(json.loads(checkpoint.read_text())["since"])
        except (OSError, ValueError, KeyError) as error:
            raise DeadlineOperationError(f"the checkpoint {checkpoint} cannot be read: {error}") from error
    result = QueueSyncResult(since, now)
    storage = queue_storage(deadline, config, farm_id, queue_id)
    newest = since
    try:
        keys_by_job: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for summary in _candidate_jobs(deadline, farm_id, queue_id, since):
            job_id = summary["jobId"]
            keys: list[str] = []
            listed = False
            for session in _every(
                deadline, "list_sessions", "sessions", farmId=farm_id, queueId=queue_id, jobId=job_id
            ):
                actions = _every(
                    deadline,
                    "list_session_actions",
                    "sessionActions",
                    farmId=farm_id,
                    queueId=queue_id,
                    jobId=job_id,
                    sessionId=session["sessionId"],
                )
                for action in actions:
                    ended = action.get("endedAt")
                    if (
                        "taskRun" not in action["definition"]
                        or action.get("status") != "SUCCEEDED"
                        or not ended
                    ):
                        continue
                    if ended <= since:
                        continue
                    newest = max(newest, ended)
                    reported = action.get("manifests")
                    if reported is None:
                        listed = True
                        continue
                    keys += [
                        storage.settings.manifest_key(m["outputManifestPath"])
                        for m in reported
                        if m.get("outputManifestPath")
                    ]
            if listed:
                prefix = storage.settings.job_output_prefix(farm_id, queue_id, job_id)
                keys += [o.key for o in select_output_manifest_keys(storage.list(prefix), prefix)]
            if keys:
                keys_by_job[job_id] = (summary, sorted(set(keys)))
        plan = DownloadPlan(storage)
        for job_id, (job, keys) in keys_by_job.items():
            merged = merge_by_root(fetch_output_manifests(storage, keys))
            formats = {
                str(m["rootPath"]): str(m.get("rootPathFormat", "posix"))
                for m in job["attachments"]["manifests"]
            }
            roots = [(root, formats.get(root, root_path_format())) for root in merged]
            mapped = local_roots(deadline, config, farm_id, queue_id, job, roots, ignore_storage_profiles)
            for root, manifest in merged.items():
                local = mapped[root]
                files = {e.path: e for e in plan.manifests.get(local, Manifest([]))}
                files.update((e.path, e) for e in manifest)  # a later job's file wins
                plan.manifests[local] = Manifest(files.values())
                plan.job_roots[local] = root
            result.jobs[job_id] = sum(len(m) for m in merged.values())
    except JobAttachmentsError as error:
        storage.close()
        raise DeadlineOperationError(str(error)) from error
    result.files = plan.file_count
    if dry_run or not plan.manifests:
        storage.close()
    else:
        print_function(f"Downloading {plan.describe()}")
        run_plan(plan, conflict=conflict, callback=callback)
    if not dry_run:
        directory.mkdir(parents=True, exist_ok=True)
        temporary = checkpoint.with_suffix(".tmp")
        temporary.write_text(json.dumps({"since": newest.isoformat(), "queueId": queue_id}))
        os.replace(temporary, checkpoint)
    result.until = newest
    return result
