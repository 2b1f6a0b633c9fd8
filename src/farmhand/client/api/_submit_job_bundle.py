"""Submitting a job bundle: read it, merge parameters, build CreateJob, send it and wait for creation."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import get_setting, set_setting, str2bool
from ..exceptions import DeadlineOperationError, MisconfiguredInputsError
from ..job_bundle import (
    AssetReferences,
    apply_job_parameters,
    check_bundle_containment,
    merge_queue_job_parameters,
    read_asset_references,
    read_job_bundle_parameters,
    read_job_template,
    split_parameter_args,
    validate_job_template,
    write_debug_snapshot,
)
from ._job_monitoring import wait_for_create_job_to_complete
from ._monitor_url import monitor_job_url
from ._queue_parameters import get_queue_parameter_definitions
from ._session import get_boto3_client, session_context
from ._telemetry import (
    get_deadline_cloud_library_telemetry_client,
    is_telemetry_opted_out,
    record_function_latency_telemetry_event,
)

__all__ = ["ProgressReportMetadata", "create_job_from_job_bundle"]

log = logging.getLogger(__name__)

DEFAULT_PRIORITY = 50


@dataclass
class ProgressReportMetadata:
    """What the hashing and upload progress callbacks receive."""

    status: str
    progress: float
    transferRate: float
    progressMessage: str
    processedFiles: int = 0


def _record_event(
    config: ConfigParser | None, event_type: str, details: dict[str, Any], from_gui: bool
) -> None:
    try:
        if not is_telemetry_opted_out(config):
            get_deadline_cloud_library_telemetry_client(config).record_event(
                event_type, details, from_gui=from_gui
            )
    except Exception:
        log.debug("telemetry event not recorded", exc_info=True)


def _check_input_paths(
    references: AssetReferences, require_paths_exist: bool, print_function: Callable[..., Any]
) -> None:
    """Input files must be files; missing inputs are an error only when the caller asks for that."""
    misfiled = sorted(p for p in references.input_filenames if os.path.isdir(p))
    if misfiled:
        raise MisconfiguredInputsError(
            "Job submission contains directories classified as files. Directories classified as files:\n"
            + "\n".join(misfiled)
        )
    missing_files = sorted(p for p in references.input_filenames if not os.path.exists(p))
    missing_directories = sorted(p for p in references.input_directories if not os.path.isdir(p))
    if require_paths_exist and missing_directories:
        raise MisconfiguredInputsError(
            "Job submission contains misconfigured input directories. Non-existent directories:\n"
            + "\n".join(missing_directories)
        )
    if require_paths_exist and missing_files:
        raise MisconfiguredInputsError(
            "Job submission contains missing input files or directories specified as files. "
            "Missing input files:\n" + "\n".join(missing_files)
        )
    for path in [*missing_files, *missing_directories]:
        print_function(f"Warning: input path {path} does not exist; it is submitted as a referenced path.")


@record_function_latency_telemetry_event()
def create_job_from_job_bundle(
    job_bundle_dir: str,
    job_parameters: list[dict[str, Any]] = [],  # noqa: B006 - the interface of deadline.client.api
    *,
    name: str | None = None,
    queue_parameter_definitions: list[dict[str, Any]] | None = None,
    job_attachments_file_system: str | None = None,
    config: ConfigParser | None = None,
    priority: int | None = None,
    max_failed_tasks_count: int | None = None,
    max_retries_per_task: int | None = None,
    max_worker_count: int | None = None,
    target_task_run_status: str | None = None,
    require_paths_exist: bool = False,
    submitter_name: str | None = None,
    submitter_version: str | None = None,
    known_asset_paths: list[str] = [],  # noqa: B006
    debug_snapshot_dir: str | None = None,
    from_gui: bool = False,
    print_function_callback: Callable[..., Any] = print,
    interactive_confirmation_callback: Callable[[str, bool], bool] | None = None,
    hashing_progress_callback: Callable[[ProgressReportMetadata], Any] | None = None,
    upload_progress_callback: Callable[[ProgressReportMetadata], Any] | None = None,
    create_job_result_callback: Callable[[], bool] | None = None,
    force_s3_check: bool | None = None,
) -> str | None:
    """Submit the bundle to the configured farm and queue; the job id (None for a debug snapshot).

    The `config` passed in decides the profile, farm, queue and every setting used on the way,
    including the queue-environment parameter lookup.
    """
    session_context["submitter-name"] = submitter_name or "Custom"
    if submitter_version:
        session_context["submitter-version"] = submitter_version
    else:
        session_context.pop("submitter-version", None)

    bundle_dir = check_bundle_containment(job_bundle_dir)
    template = read_job_template(bundle_dir)
    if name is not None:
        template = template.with_name(name)
    validate_job_template(template)

    deadline = get_boto3_client("deadline", config)
    farm_id = get_setting("defaults.farm_id", config)
    queue_id = get_setting("defaults.queue_id", config)
    if not farm_id:
        raise DeadlineOperationError("No farm is configured: set defaults.farm_id (farmhand config set).")
    if not queue_id:
        raise DeadlineOperationError("No queue is configured: set defaults.queue_id (farmhand config set).")
    file_system = job_attachments_file_system or get_setting("defaults.job_attachments_file_system", config)
    if file_system not in ("COPIED", "VIRTUAL"):
        raise DeadlineOperationError(
            f"job_attachments_file_system must be COPIED or VIRTUAL, not {file_system!r}"
        )
    if force_s3_check is None:
        force_s3_check = str2bool(get_setting("settings.force_s3_check", config))

    queue = deadline.get_queue(farmId=farm_id, queueId=queue_id)
    verb = "Snapshotting submission to" if debug_snapshot_dir else "Submitting to"
    print_function_callback(f"{verb} Queue: {queue['displayName']}\n")

    create_job_args: dict[str, Any] = {
        "farmId": farm_id,
        "queueId": queue_id,
        "template": template.text,
        "templateType": template.template_type,
        "priority": DEFAULT_PRIORITY,
    }
    storage_profile: dict[str, Any] | None = None
    storage_profile_id = get_setting("settings.storage_profile_id", config)
    if storage_profile_id:
        create_job_args["storageProfileId"] = storage_profile_id
        storage_profile = dict(
            deadline.get_storage_profile_for_queue(
                farmId=farm_id, queueId=queue_id, storageProfileId=storage_profile_id
            )
        )

    bundle_parameters = read_job_bundle_parameters(bundle_dir, template)
    asset_references = read_asset_references(bundle_dir)
    if queue_parameter_definitions is None:
        queue_parameter_definitions = get_queue_parameter_definitions(
            farmId=farm_id, queueId=queue_id, config=config
        )
    merged = merge_queue_job_parameters(bundle_parameters, queue_parameter_definitions, queue_id)
    asset_references = apply_job_parameters(list(job_parameters), merged, asset_references)
    app_parameters, parameters = split_parameter_args(merged, bundle_dir)

    if asset_references.has_paths() and queue.get("jobAttachmentSettings"):
        # Job attachments (hashing and upload) are not built yet: paths are submitted as they are,
        # for a file system the workers share. The checks and callbacks behave as they will then.
        _check_input_paths(asset_references, require_paths_exist, print_function_callback)
    for callback, message, status in (
        (hashing_progress_callback, "No files to hash", "PREPARING_IN_PROGRESS"),
        (upload_progress_callback, "No files to upload", "UPLOAD_IN_PROGRESS"),
    ):
        if callback is not None:
            callback(
                ProgressReportMetadata(
                    status=status, progress=100.0, transferRate=0.0, progressMessage=message
                )
            )

    create_job_args.update(app_parameters)
    if parameters:
        create_job_args["parameters"] = parameters
    if priority is not None:
        create_job_args["priority"] = priority
    if max_worker_count is not None:
        create_job_args["maxWorkerCount"] = max_worker_count
    if max_failed_tasks_count is not None:
        create_job_args["maxFailedTasksCount"] = max_failed_tasks_count
    elif "maxFailedTasksCount" not in create_job_args:
        create_job_args["maxFailedTasksCount"] = int(get_setting("settings.max_failed_tasks_count", config))
    if max_retries_per_task is not None:
        create_job_args["maxRetriesPerTask"] = max_retries_per_task
    elif "maxRetriesPerTask" not in create_job_args:
        create_job_args["maxRetriesPerTask"] = int(get_setting("settings.max_retries_per_task", config))
    if target_task_run_status is not None:
        create_job_args["targetTaskRunStatus"] = target_task_run_status

    _record_event(config, "submission", {"submitter_name": session_context["submitter-name"]}, from_gui)

    if debug_snapshot_dir:
        write_debug_snapshot(debug_snapshot_dir, create_job_args, dict(queue), storage_profile)
        print_function_callback(f"Wrote a debug snapshot of the submission to {debug_snapshot_dir}")
        return None

    response = deadline.create_job(**create_job_args)
    job_id = response.get("jobId")
    if not job_id:
        raise DeadlineOperationError("CreateJob response was empty, or did not contain a Job ID.")
    print_function_callback("Waiting for Job to be created...")
    if config is None:
        set_setting("defaults.job_id", job_id)
    else:
        set_setting("defaults.job_id", job_id, config)
    succeeded, message = wait_for_create_job_to_complete(
        farm_id, queue_id, job_id, deadline, create_job_result_callback or (lambda: True)
    )
    _record_event(config, "create_job", {"is_success": succeeded}, from_gui)
    if not succeeded:
        raise DeadlineOperationError(message or f"Job {job_id} could not be created.")
    print_function_callback("Submitted job bundle:")
    print_function_callback(f"   {Path(job_bundle_dir)}")
    print_function_callback(f"{message}\n{job_id}" if message else job_id)
    job_url = monitor_job_url(farm_id, queue_id, job_id, config)
    if job_url:
        print_function_callback(f"Job URL: {job_url}")
    return str(job_id)
