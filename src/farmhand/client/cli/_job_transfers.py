"""`farmhand job download-output` and `job download-input`: a job's attachments onto this machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ._common import (
    farm_option,
    job_option,
    load_config,
    profile_option,
    queue_option,
    region_option,
    require_farm_id,
    require_job_id,
    require_queue_id,
    yes_option,
)
from ._output import emit_json, json_option

if TYPE_CHECKING:
    from ..attachments import DownloadPlan

__all__ = ["download_input_command", "download_output_command"]

CONFLICT_CHOICES = click.Choice(["skip", "overwrite", "create_copy"], case_sensitive=False)


def _summary_json(summary: object) -> dict[str, object]:
    return {
        "processedFiles": getattr(summary, "processed_files", 0),
        "processedBytes": getattr(summary, "processed_bytes", 0),
        "skippedFiles": getattr(summary, "skipped_files", 0),
        "downloadedFiles": getattr(summary, "downloaded_files", []),
    }


def _confirm(yes: bool, as_json: bool) -> Callable[[DownloadPlan], bool]:
    def ask(plan: DownloadPlan) -> bool:
        description = plan.describe()
        if yes:
            if not as_json:
                click.echo(f"Downloading {description}", err=True)
            return True
        return click.confirm(f"Download {description}\nContinue?", default=True, err=True)

    return ask


@click.command("download-output")
@profile_option
@farm_option
@region_option
@queue_option
@job_option
@click.option("--step-id", help="Only this step's outputs.")
@click.option("--task-id", help="Only this task's outputs (needs --step-id).")
@click.option(
    "--conflict-resolution",
    type=CONFLICT_CHOICES,
    default="create_copy",
    show_default=True,
    help="A file that exists already: skip it, overwrite it, or download as 'name (1).ext'.",
)
@click.option("--ignore-storage-profiles", is_flag=True, help="Download to the job's own paths, unmapped.")
@yes_option
@json_option
def download_output_command(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id_option: str | None,
    step_id: str | None,
    task_id: str | None,
    conflict_resolution: str,
    ignore_storage_profiles: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Download the outputs of a job (its latest task runs) to where the submitter had them."""
    from ..attachments import download_job_output
    from ._transfer_progress import TransferProgress

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id, yes=yes)
    farm, queue = require_farm_id(config), require_queue_id(config)
    job = require_job_id(config, None, job_id_option)
    with TransferProgress() as progress:
        summary = download_job_output(
            farm_id=farm,
            queue_id=queue,
            job_id=job,
            step_id=step_id,
            task_id=task_id,
            conflict=conflict_resolution,
            config=config,
            ignore_storage_profiles=ignore_storage_profiles,
            callback=progress.downloading,
            confirm=_confirm(yes, as_json),
        )
    if as_json:
        emit_json(_summary_json(summary))
    else:
        click.echo(f"Download Summary:\n{summary}", err=True)


@click.command("download-input")
@profile_option
@farm_option
@region_option
@queue_option
@job_option
@click.option(
    "--destination",
    type=click.Path(file_okay=False),
    help="Put each input root in DESTINATION/rootN instead of where the submitter had it.",
)
@click.option("--conflict-resolution", type=CONFLICT_CHOICES, default="create_copy", show_default=True)
@click.option("--ignore-storage-profiles", is_flag=True, help="Download to the job's own paths, unmapped.")
@yes_option
@json_option
def download_input_command(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id_option: str | None,
    destination: str | None,
    conflict_resolution: str,
    ignore_storage_profiles: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Download the input files a job was submitted with."""
    from ..attachments import download_job_input
    from ._transfer_progress import TransferProgress

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id, yes=yes)
    farm, queue = require_farm_id(config), require_queue_id(config)
    job = require_job_id(config, None, job_id_option)
    with TransferProgress() as progress:
        summary = download_job_input(
            farm_id=farm,
            queue_id=queue,
            job_id=job,
            destination=destination,
            conflict=conflict_resolution,
            config=config,
            ignore_storage_profiles=ignore_storage_profiles,
            callback=progress.downloading,
            confirm=_confirm(yes, as_json),
        )
    if as_json:
        emit_json(_summary_json(summary))
    else:
        click.echo(f"Download Summary:\n{summary}", err=True)
