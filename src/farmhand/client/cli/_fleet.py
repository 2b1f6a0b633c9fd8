"""`farmhand fleet create/list/get`."""

from __future__ import annotations

from typing import Any

import click

from ._common import every_item, farm_option, load_config, profile_option, region_option, require_farm_id
from ._errors import CliUsageError
from ._farm_structure import fleet_create
from ._output import emit_json, json_option, print_record, print_table

__all__ = ["fleet_group"]


@click.group("fleet")
def fleet_group() -> None:
    """Create fleets, list them or show one."""


@fleet_group.command("list")
@profile_option
@farm_option
@region_option
@json_option
def fleet_list(profile: str | None, farm_id: str | None, region: str | None, as_json: bool) -> None:
    """The fleets of the farm."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region)
    farm_id = require_farm_id(config)
    fleets = api.list_fleets(config=config, farmId=farm_id)["fleets"]
    if as_json:
        emit_json({"fleets": fleets})
        return
    print_table(
        fleets,
        [
            ("displayName", "Name"),
            ("fleetId", "Fleet ID"),
            ("status", "Status"),
            ("workerCount", "Workers"),
            ("minWorkerCount", "Min"),
            ("maxWorkerCount", "Max"),
        ],
        status_columns=("status",),
        empty_message=f"No fleets in {farm_id}.",
    )


@fleet_group.command("get")
@profile_option
@farm_option
@region_option
@click.option("--fleet-id", help="The fleet to show [default: the default queue's fleet, when it has one].")
@click.option("--queue-id", help="Without --fleet-id: show every fleet associated with this queue.")
@json_option
def fleet_get(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    fleet_id: str | None,
    queue_id: str | None,
    as_json: bool,
) -> None:
    """Details of one fleet, or of every fleet that serves a queue.

    With neither option: the default queue's fleet when it has exactly one, else all of them.
    """
    from .. import api
    from ..config import get_setting

    config = load_config(profile=profile, farm_id=farm_id, region=region)
    farm_id = require_farm_id(config)
    deadline = api.get_boto3_client("deadline", config=config)
    if fleet_id:
        fleet = deadline.get_fleet(farmId=farm_id, fleetId=fleet_id)
        if as_json:
            emit_json(fleet)
        else:
            print_record(fleet)
        return
    by_default = not queue_id
    queue_id = queue_id or get_setting("defaults.queue_id", config)
    if not queue_id:
        raise CliUsageError("Give --fleet-id, or --queue-id to show the fleets associated with a queue.")
    queue = deadline.get_queue(farmId=farm_id, queueId=queue_id)
    associations = every_item(
        deadline, "list_queue_fleet_associations", "queueFleetAssociations", farmId=farm_id, queueId=queue_id
    )
    if by_default and len(associations) == 1:
        only = dict(deadline.get_fleet(farmId=farm_id, fleetId=associations[0]["fleetId"]))
        only.pop("ResponseMetadata", None)
        if as_json:
            emit_json(only)
        else:
            print_record(only)
        return
    fleets: list[dict[str, Any]] = []
    for association in associations:
        fleet = dict(deadline.get_fleet(farmId=farm_id, fleetId=association["fleetId"]))
        fleet.pop("ResponseMetadata", None)
        fleet["associationStatus"] = association.get("status")
        fleets.append(fleet)
    if as_json:
        emit_json({"queueId": queue_id, "fleets": fleets})
        return
    if not fleets:
        click.echo(f"No fleets are associated with queue {queue.get('displayName')} ({queue_id}).")
        return
    for fleet in fleets:
        print_record(fleet)
        click.echo("")


fleet_group.add_command(fleet_create)
