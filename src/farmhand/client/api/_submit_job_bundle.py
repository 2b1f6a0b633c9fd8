"""Submitting a job bundle: read it, merge parameters, build CreateJob, send it and wait for creation."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from configparser import ConfigParser
from pathlib import Path
from typing import Any

from ...job_attachments import ProgressReportMetadata, ProgressStatus, stat_groups
from ..config import get_setting, set_setting, str2bool
from ..exceptions import (
    DeadlineOperationCanceled,
    DeadlineOperationError,
    MisconfiguredInputsError,
    UserInitiatedCancel,
)
from ..job_bundle import (
    AssetReferences,
    Hook,
    HookSet,
    apply_job_parameters,
    check_bundle_containment,
    describe_hooks,
    describe_template_error,
    merge_queue_job_parameters,
    read_asset_references,
    read_hooks,
    read_job_bundle_parameters,
    read_job_template,
    run_hooks,
    split_parameter_args,
    validate_job_template,
    validate_parameter_value,
    write_debug_snapshot,
)
from ._attachments import (
    attachment_groups,
    collect_attachment_paths,
    confirm_transfers,
    known_paths,
    submit_attachments,
)
from ._job_monitoring import wait_for_create_job_to_complete
from ._monitor_url import monitor_job_url
from ._queue_credentials import get_queue_user_boto3_session
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


def _collect_hooks(bundle_dir: Path, config: ConfigParser | None) -> list[HookSet]:
    """Workstation hooks (`DEADLINE_HOOKS_DIR`) then bundle hooks, each only when its setting allows."""
    hook_sets: list[HookSet] = []
    environment_dir = os.environ.get("DEADLINE_HOOKS_DIR")
    if environment_dir and str2bool(get_setting("settings.allow_environment_hooks", config)):
        hook_sets.append(read_hooks(Path(environment_dir)) or HookSet(Path(environment_dir), [], []))
    if str2bool(get_setting("settings.allow_bundle_hooks", config)):
        hook_sets.append(read_hooks(bundle_dir) or HookSet(bundle_dir, [], []))
    return [h for h in hook_sets if h.pre_submission or h.post_submission]


def _confirm_hooks(
    hook_sets: list[HookSet],
    config: ConfigParser | None,
    confirm: Callable[[str, bool], bool] | None,
    print_function: Callable[..., Any],
) -> None:
    """Hooks run commands on this machine: the user agrees first unless `settings.auto_accept` is on."""
    if not hook_sets or str2bool(get_setting("settings.auto_accept", config)):
        return
    message = describe_hooks(hook_sets)
    if confirm is None:
        print_function(message)
        print_function("Job submission canceled (hooks present but user confirmation not available).")
        raise DeadlineOperationCanceled()
    if not confirm(message + "\nDo you wish to proceed?", False):
        print_function("Job submission canceled (user input).")
        raise UserInitiatedCancel()


def _apply_hook_parameters(
    changes: dict[str, Any], merged: list[dict[str, Any]], caller_names: set[str]
) -> None:
    """Parameter values printed by pre-submission hooks; the caller's own values still win."""
    by_name = {entry["name"]: entry for entry in merged}
    for name, value in (changes.get("parameters") or {}).items():
        if name in caller_names:
            continue
        entry = by_name.get(name)
        if entry is None or "type" not in entry:
            raise DeadlineOperationError(f"A pre-submission hook set {name!r}, which the job does not define")
        if entry["type"] == "PATH" and not os.path.isabs(str(value)):
            raise DeadlineOperationError(
                f"A pre-submission hook set PATH {name!r} to {value!r}: it must be absolute"
            )
        entry["value"] = validate_parameter_value(entry, value)


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
    hook_sets = _collect_hooks(bundle_dir, config)
    _confirm_hooks(hook_sets, config, interactive_confirmation_callback, print_function_callback)
    template = read_job_template(bundle_dir)
    if name is not None:
        template = template.with_name(name)
    if debug_snapshot_dir:
        # Nothing is sent, so nothing else would check the template. Otherwise the farm checks it with
        # the same openjd-model rules and names the field; importing openjd here would cost a CLI
        # submission about half a second.
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

    metadata: dict[str, Any] = {
        "jobName": template.document.get("name"),
        "priority": priority if priority is not None else app_parameters.get("priority", DEFAULT_PRIORITY),
        "farmId": farm_id,
        "queueId": queue_id,
        "jobBundleDir": os.path.abspath(bundle_dir),
        "parameters": {e["name"]: e.get("value") for e in merged if "type" in e},
        "submitterName": session_context["submitter-name"],
        "assetReferences": {},
    }
    pre_hooks: list[tuple[Path, Hook]] = [(h.location, hook) for h in hook_sets for hook in h.pre_submission]
    hook_priority: int | None = None
    changes: dict[str, Any] = {}
    if pre_hooks:
        changes = run_hooks("pre", pre_hooks, metadata, print_function_callback)
        if "template" in changes:
            create_job_args["template"] = str(changes["template"])
            create_job_args["templateType"] = str(changes.get("templateType", template.template_type))
        if "priority" in changes:
            hook_priority = int(changes["priority"])
        _apply_hook_parameters(changes, merged, {p["name"] for p in job_parameters})
        app_parameters, parameters = split_parameter_args(merged, bundle_dir)

    if pre_hooks and changes.get("attachments"):
        asset_references = asset_references.union(_hook_asset_references(changes["attachments"]))
    attachments_sent = False
    if asset_references.has_paths() and queue.get("jobAttachmentSettings"):
        paths = collect_attachment_paths(asset_references, require_paths_exist, print_function_callback)
        groups = attachment_groups(paths, storage_profile)
        stats = stat_groups(groups)
        if any(group.inputs or group.outputs for group in groups):
            known = known_paths(
                known_asset_paths, bundle_dir, storage_profile, config, job_parameters, merged
            )
            confirm_transfers(
                groups,
                stats,
                known,
                storage_profile,
                config,
                interactive_confirmation_callback,
                print_function_callback,
                from_gui,
            )
        if groups:
            session = get_queue_user_boto3_session(
                deadline, config, farm_id, queue_id, queue_display_name=queue["displayName"]
            )
            manifests = submit_attachments(
                session=session,
                queue=queue,
                farm_id=farm_id,
                queue_id=queue_id,
                groups=groups,
                stats=stats,
                config=config,
                force_s3_check=force_s3_check,
                hashing_callback=hashing_progress_callback,
                upload_callback=upload_progress_callback,
                print_function=print_function_callback,
                snapshot_dir=debug_snapshot_dir,
            )
            create_job_args["attachments"] = {"manifests": manifests, "fileSystem": file_system}
            attachments_sent = any(group.inputs for group in groups)
    elif asset_references.has_paths() and require_paths_exist:
        # A queue without job attachments: paths are submitted as they are, for a file system the
        # workers share; --require-paths-exist still refuses missing inputs.
        _check_input_paths(asset_references, require_paths_exist, print_function_callback)
    if not attachments_sent:
        for callback, message, status in (
            (hashing_progress_callback, "No files to hash", ProgressStatus.PREPARING_IN_PROGRESS),
            (upload_progress_callback, "No files to upload", ProgressStatus.UPLOAD_IN_PROGRESS),
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
    if hook_priority is not None:
        create_job_args["priority"] = hook_priority
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

    response = _create_job(deadline, create_job_args)
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
    post_hooks = [(h.location, hook) for h in hook_sets for hook in h.post_submission]
    if post_hooks:
        post_metadata = {**metadata, "submissionPayload": create_job_args, "jobId": job_id}
        run_hooks("post", post_hooks, post_metadata, print_function_callback)
    return str(job_id)


def _create_job(deadline: Any, create_job_args: dict[str, Any]) -> dict[str, Any]:
    """CreateJob; the farm's verdict on a bad template becomes the same one-line error as a local check."""
    from botocore.exceptions import ClientError

    try:
        response: dict[str, Any] = deadline.create_job(**create_job_args)
    except ClientError as error:
        details = error.response.get("Error", {})
        message = str(details.get("Message", ""))
        if details.get("Code") == "ValidationException" and message.startswith("template:"):
            raise DeadlineOperationError(describe_template_error(message[len("template:") :])) from error
        raise
    return response


def _hook_asset_references(attachments: Any) -> AssetReferences:
    """`attachments.assetReferences` a pre-submission hook added (absolute paths only)."""
    document = attachments.get("assetReferences", {}) if isinstance(attachments, dict) else {}
    inputs = document.get("inputs") or {}
    outputs = document.get("outputs") or {}

    def absolute(values: Any) -> set[str]:
        return {os.path.normpath(str(v)) for v in values or [] if os.path.isabs(str(v))}

    return AssetReferences(
        absolute(inputs.get("filenames")),
        absolute(inputs.get("directories")),
        absolute(outputs.get("directories")),
        absolute(document.get("referencedPaths")),
    )
