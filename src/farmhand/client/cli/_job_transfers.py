"""`farmhand job download-output` and `job download-input`: a job's attachments onto this machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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


def _download(plan_for: Callable[[Any, str, str, str], DownloadPlan], **options: Any) -> None:
    """The shared body of the download commands: plan, confirm, download with a progress bar."""
    from ..attachments import run_plan
    from ._transfer_progress import TransferProgress

    yes, as_json = options.pop("yes"), options.pop("as_json")
    config = load_config(
        profile=options.pop("profile"),
        farm_id=options.pop("farm_id"),
        region=options.pop("region"),
        queue_id=options.pop("queue_id"),
        yes=yes,
    )
    farm, queue = require_farm_id(config), require_queue_id(config)
    job = require_job_id(config, None, options.pop("job_id_option"))
    plan = plan_for(config, farm, queue, job)
    with TransferProgress() as progress:
        summary = run_plan(
            plan,
            conflict=options.pop("conflict_resolution"),
            callback=progress.downloading,
            confirm=_confirm(yes, as_json),
        )
    if as_json:
        emit_json(_summary_json(summary))
    else:
        click.echo(f"Download Summary:\n{summary}", err=True)


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
    step_id: str | None, task_id: str | None, ignore_storage_profiles: bool, **options: Any
) -> None:
    """Download the outputs of a job (its latest task runs) to where the submitter had them."""
    from ..attachments import plan_job_output

    _download(
        lambda config, farm, queue, job: plan_job_output(
            farm_id=farm,
            queue_id=queue,
            job_id=job,
            step_id=step_id,
            task_id=task_id,
            config=config,
            ignore_storage_profiles=ignore_storage_profiles,
        ),
        **options,
    )


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
def download_input_command(destination: str | None, ignore_storage_profiles: bool, **options: Any) -> None:
    """Download the input files a job was submitted with."""
    from ..attachments import plan_job_input

    _download(
        lambda config, farm, queue, job: plan_job_input(
            farm_id=farm,
            queue_id=queue,
            job_id=job,
            destination=destination,
            config=config,
            ignore_storage_profiles=ignore_storage_profiles,
        ),
        **options,
    )
