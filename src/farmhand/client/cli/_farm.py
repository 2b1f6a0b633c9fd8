"""`farmhand farm create/list/get`."""

from __future__ import annotations

import click

from ._common import farm_option, load_config, profile_option, region_option, require_farm_id
from ._farm_structure import farm_add_member, farm_create
from ._output import emit_json, json_option, print_record, print_table

__all__ = ["farm_group"]


@click.group("farm")
def farm_group() -> None:
    """Create farms, list them or show one."""


@farm_group.command("list")
@profile_option
@region_option
@json_option
def farm_list(profile: str | None, region: str | None, as_json: bool) -> None:
    """The farms the profile can see."""
    from .. import api

    config = load_config(profile=profile)
    farms = api.list_farms(config=config, region=region)["farms"]
    if as_json:
        emit_json({"farms": farms})
        return
    print_table(
        farms,
        [
            ("displayName", "Name"),
            ("farmId", "Farm ID"),
            ("region", "Region"),
            ("description", "Description"),
        ],
        empty_message="No farms.",
    )


@farm_group.command("get")
@profile_option
@farm_option
@region_option
@json_option
def farm_get(profile: str | None, farm_id: str | None, region: str | None, as_json: bool) -> None:
    """Details of one farm."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region)
    farm_id = require_farm_id(config)
    farm = api.get_boto3_client("deadline", config=config).get_farm(farmId=farm_id)
    if as_json:
        emit_json(farm)
    else:
        print_record(farm)


farm_group.add_command(farm_create)
farm_group.add_command(farm_add_member)
