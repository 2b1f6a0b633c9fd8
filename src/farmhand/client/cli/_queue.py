"""`farmhand queue create/list/get/paramdefs`."""

from __future__ import annotations

from typing import Any

import click

from ._common import (
    farm_option,
    load_config,
    profile_option,
    queue_option,
    region_option,
    require_farm_id,
    require_queue_id,
)
from ._farm_structure import queue_add_member, queue_create
from ._output import emit_json, json_option, print_record, print_table

__all__ = ["queue_group"]


@click.group("queue")
def queue_group() -> None:
    """Create queues, list them, show one or the parameters its environments add to every job."""


@queue_group.command("list")
@profile_option
@farm_option
@region_option
@json_option
def queue_list(profile: str | None, farm_id: str | None, region: str | None, as_json: bool) -> None:
    """The queues of the farm."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region)
    farm_id = require_farm_id(config)
    queues = api.list_queues(config=config, farmId=farm_id)["queues"]
    if as_json:
        emit_json({"queues": queues})
        return
    print_table(
        queues,
        [
            ("displayName", "Name"),
            ("queueId", "Queue ID"),
            ("status", "Status"),
            ("defaultBudgetAction", "Budget"),
        ],
        status_columns=("status",),
        empty_message=f"No queues in {farm_id}.",
    )


@queue_group.command("get")
@profile_option
@farm_option
@region_option
@queue_option
@json_option
def queue_get(
    profile: str | None, farm_id: str | None, region: str | None, queue_id: str | None, as_json: bool
) -> None:
    """Details of one queue."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id)
    farm_id = require_farm_id(config)
    queue_id = require_queue_id(config)
    queue = api.get_boto3_client("deadline", config=config).get_queue(farmId=farm_id, queueId=queue_id)
    if as_json:
        emit_json(queue)
    else:
        print_record(queue)


def _default_text(definition: dict[str, Any]) -> str:
    default = definition.get("default")
    return "" if default is None else str(default)


@queue_group.command("paramdefs")
@profile_option
@farm_option
@region_option
@queue_option
@json_option
def queue_paramdefs(
    profile: str | None, farm_id: str | None, region: str | None, queue_id: str | None, as_json: bool
) -> None:
    """The job parameters the queue's environments define (set them with `bundle submit -p`)."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id)
    farm_id = require_farm_id(config)
    queue_id = require_queue_id(config)
    definitions = [
        dict(definition)
        for definition in api.get_queue_parameter_definitions(farmId=farm_id, queueId=queue_id, config=config)
    ]
    if as_json:
        emit_json({"parameterDefinitions": definitions})
        return
    rows = [{**definition, "defaultText": _default_text(definition)} for definition in definitions]
    print_table(
        rows,
        [("name", "Name"), ("type", "Type"), ("defaultText", "Default"), ("description", "Description")],
        empty_message=f"The environments of {queue_id} define no job parameters.",
    )


@queue_group.command("sync-output")
@profile_option
@farm_option
@queue_option
@region_option
@click.option("--storage-profile-id", help="This workstation's storage profile, for mapping the jobs' paths.")
@click.option(
    "--bootstrap-lookback-minutes",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="On the first run, download outputs of task runs that ended this many minutes ago or later.",
)
@click.option("--checkpoint-dir", type=click.Path(file_okay=False), help="Where the progress file is kept.")
@click.option("--force-bootstrap", is_flag=True, help="Start from the look-back, ignoring the checkpoint.")
@click.option("--ignore-storage-profiles", is_flag=True, help="Download to the jobs' own paths, unmapped.")
@click.option(
    "--conflict-resolution",
    type=click.Choice(["skip", "overwrite", "create_copy"], case_sensitive=False),
    default="overwrite",
    show_default=True,
)
@click.option("--dry-run", is_flag=True, help="Say what would be downloaded; download nothing.")
@json_option
def queue_sync_output(
    profile: str | None,
    farm_id: str | None,
    queue_id: str | None,
    region: str | None,
    storage_profile_id: str | None,
    bootstrap_lookback_minutes: float,
    checkpoint_dir: str | None,
    force_bootstrap: bool,
    ignore_storage_profiles: bool,
    conflict_resolution: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Download the outputs written in the queue since the last run (incremental)."""
    from pathlib import Path

    from ..attachments import sync_queue_output
    from ._transfer_progress import TransferProgress

    config = load_config(
        profile=profile,
        farm_id=farm_id,
        region=region,
        queue_id=queue_id,
        storage_profile_id=storage_profile_id,
    )
    farm, queue = require_farm_id(config), require_queue_id(config)
    with TransferProgress() as progress:
        result = sync_queue_output(
            farm_id=farm,
            queue_id=queue,
            config=config,
            checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
            bootstrap_lookback_minutes=bootstrap_lookback_minutes,
            force_bootstrap=force_bootstrap,
            ignore_storage_profiles=ignore_storage_profiles,
            conflict=conflict_resolution,
            dry_run=dry_run,
            callback=progress.downloading,
            print_function=lambda line: click.echo(line, err=True),
        )
    if as_json:
        emit_json({"since": result.since, "until": result.until, "jobs": result.jobs, "files": result.files})
    else:
        verb = "Would download" if dry_run else "Downloaded"
        click.echo(
            f"{verb} {result.files} file(s) of {len(result.jobs)} job(s) since {result.since.isoformat()}"
        )


queue_group.add_command(queue_create)
queue_group.add_command(queue_add_member)
