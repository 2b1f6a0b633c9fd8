"""`farmhand bundle submit`: an Open Job Description job bundle to a queue.

Unlike the AWS CLI, options only override what they name: without `--priority`, the bundle's
`deadline:priority` (or 50) applies, and the retry/failure limits come from the bundle before the
config. Chatter goes to stderr; stdout gets the job id (or JSON), so scripts can capture it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from ..config import get_setting, read_config, set_setting
from ._common import (
    farm_option,
    load_config,
    profile_option,
    queue_option,
    region_option,
    require_farm_id,
    require_queue_id,
    yes_option,
)
from ._errors import CliUsageError
from ._output import emit_json, json_option
from ._waiting import wait_and_report

__all__ = ["bundle_group", "parse_parameter_assignments", "read_parameter_file"]


@click.group("bundle")
def bundle_group() -> None:
    """Submit Open Job Description job bundles."""


def parse_parameter_assignments(assignments: tuple[str, ...]) -> list[dict[str, Any]]:
    """`-p Name=Value` options as `[{"name", "value"}]`; the value may itself contain `=`."""
    parameters: list[dict[str, Any]] = []
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not name.strip():
            raise CliUsageError(f"-p {assignment!r} is not Name=Value")
        parameters.append({"name": name.strip(), "value": value})
    return parameters


def read_parameter_file(path: Path) -> list[dict[str, Any]]:
    """A JSON or YAML file: `{"parameterValues": [{"name", "value"}, ...]}` or a `{name: value}` mapping."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        message = " ".join(str(error).split())
        raise CliUsageError(f"--parameter-file {path} cannot be read: {message}") from error
    if isinstance(document, dict) and isinstance(document.get("parameterValues"), list):
        entries = document["parameterValues"]
        if not all(isinstance(entry, dict) and "name" in entry and "value" in entry for entry in entries):
            raise CliUsageError(
                f"--parameter-file {path}: each parameterValues entry needs a name and a value"
            )
        return [{"name": str(entry["name"]), "value": entry["value"]} for entry in entries]
    if isinstance(document, dict):
        return [{"name": str(name), "value": value} for name, value in document.items()]
    raise CliUsageError(
        f"--parameter-file {path} must map parameter names to values, or hold parameterValues"
    )


def _merge_parameters(*groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Later groups win for the same name; first-seen order is kept."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        for entry in group:
            merged[entry["name"]] = entry
    return list(merged.values())


def _confirm(message: str, default: bool) -> bool:
    return click.confirm(message, default=default, err=True)


_JOB_ID_LINE = re.compile(r"^job-[0-9a-f]{32}$")


def _chatter(*parts: Any) -> None:
    """The submission's progress messages, on stderr, without the job id: stdout has it, once."""
    lines = " ".join(str(part) for part in parts).split("\n")
    kept = [line for line in lines if not _JOB_ID_LINE.match(line.strip())]
    if any(line.strip() for line in kept):
        click.echo("\n".join(kept), err=True)


def _remember_job(config_used: Any, job_id: str) -> None:
    """Save the job as defaults.job_id on disk when it went to the configured farm and queue."""
    on_disk = read_config()
    for name in ("defaults.aws_profile_name", "defaults.farm_id", "defaults.queue_id"):
        if get_setting(name, on_disk) != get_setting(name, config_used):
            return
    set_setting("defaults.job_id", job_id)


@bundle_group.command("submit")
@click.argument("job_bundle_dir", type=click.Path(path_type=Path))
@click.option(
    "-p",
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME=VALUE",
    help="A job parameter value (repeatable; later values win).",
)
@click.option(
    "--parameter-file",
    "parameter_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON/YAML file of parameter values (a name->value mapping or parameterValues); -p wins.",
)
@profile_option
@farm_option
@region_option
@queue_option
@click.option("--storage-profile-id", help="The storage profile of this workstation.")
@click.option("--name", help="Job name (default: the template's name).")
@click.option(
    "--priority",
    type=click.IntRange(0, 100),
    help="Job priority 0-100 (default: the bundle's deadline:priority, else 50).",
)
@click.option(
    "--max-failed-tasks-count",
    type=click.IntRange(0),
    help="Fail the job after this many failed tasks (default: bundle, else settings).",
)
@click.option(
    "--max-retries-per-task",
    type=click.IntRange(0),
    help="Retries of a failed task (default: bundle, else settings).",
)
@click.option("--max-worker-count", type=click.IntRange(-1), help="Most workers the job may use at once.")
@click.option("--submit-suspended", is_flag=True, help="Create the job with its tasks SUSPENDED.")
@click.option("--job-attachments-file-system", type=click.Choice(["COPIED", "VIRTUAL"]))
@click.option("--require-paths-exist", is_flag=True, help="Refuse missing input files and directories.")
@click.option(
    "--known-asset-path",
    "known_asset_paths",
    multiple=True,
    help="A path that needs no confirmation (repeatable).",
)
@click.option("--submitter-name", default="CLI", show_default=True)
@click.option(
    "--save-debug-snapshot",
    type=click.Path(path_type=Path),
    help="Write the CreateJob request and files to this directory instead of submitting.",
)
@yes_option
@click.option("--wait", is_flag=True, help="Wait for the job to finish; exit codes as `farmhand job wait`.")
@click.option(
    "--timeout",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="With --wait: give up after this many seconds (0: never).",
)
@click.option(
    "--max-poll-interval",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="With --wait: longest pause between polls, in seconds.",
)
@json_option
def bundle_submit(
    job_bundle_dir: Path,
    parameters: tuple[str, ...],
    parameter_files: tuple[Path, ...],
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    storage_profile_id: str | None,
    name: str | None,
    priority: int | None,
    max_failed_tasks_count: int | None,
    max_retries_per_task: int | None,
    max_worker_count: int | None,
    submit_suspended: bool,
    job_attachments_file_system: str | None,
    require_paths_exist: bool,
    known_asset_paths: tuple[str, ...],
    submitter_name: str,
    save_debug_snapshot: Path | None,
    yes: bool,
    wait: bool,
    timeout: float,
    max_poll_interval: float,
    as_json: bool,
) -> None:
    """Submit the job bundle in JOB_BUNDLE_DIR (a template.yaml/json, optional parameter_values and
    asset_references) and print the new job's id."""
    job_parameters = _merge_parameters(
        *(read_parameter_file(path) for path in parameter_files), parse_parameter_assignments(parameters)
    )
    config = load_config(
        profile=profile,
        farm_id=farm_id,
        region=region,
        queue_id=queue_id,
        storage_profile_id=storage_profile_id,
        yes=yes,
    )
    farm = require_farm_id(config)
    queue = require_queue_id(config)

    from .. import api
    from ._transfer_progress import TransferProgress

    with TransferProgress() as transfer:
        job_id = api.create_job_from_job_bundle(
            str(job_bundle_dir),
            job_parameters,
            name=name,
            config=config,
            priority=priority,
            max_failed_tasks_count=max_failed_tasks_count,
            max_retries_per_task=max_retries_per_task,
            max_worker_count=max_worker_count,
            target_task_run_status="SUSPENDED" if submit_suspended else None,
            job_attachments_file_system=job_attachments_file_system,
            require_paths_exist=require_paths_exist,
            submitter_name=submitter_name,
            known_asset_paths=list(known_asset_paths),
            debug_snapshot_dir=str(save_debug_snapshot) if save_debug_snapshot else None,
            print_function_callback=_chatter,
            interactive_confirmation_callback=None if yes else _confirm,
            hashing_progress_callback=transfer.hashing,
            upload_progress_callback=transfer.uploading,
        )
    if job_id is None:
        if as_json:
            emit_json({"debugSnapshot": str(save_debug_snapshot)})
        return
    _remember_job(config, job_id)
    if not wait:
        if as_json:
            emit_json({"jobId": job_id, "farmId": farm, "queueId": queue})
        else:
            click.echo(job_id)
        return
    if not as_json:
        click.echo(job_id)
    code = wait_and_report(
        config, farm, queue, job_id, timeout=timeout, max_poll_interval=max_poll_interval, as_json=as_json
    )
    raise click.exceptions.Exit(code)
