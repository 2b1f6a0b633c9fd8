"""`farmhand worker`: run a worker agent (`farmhand worker run`, or options straight after `worker`),
or read the workers of a fleet (`farmhand worker list/get`)."""

from __future__ import annotations

from typing import Any

import click

from ._common import farm_option, load_config, profile_option, region_option, require_farm_id
from ._lazy_group import LazyCommand, LazyGroup
from ._output import emit_json, json_option, print_record, print_table

__all__ = ["worker_group"]

_AGENT = "run"
_AGENT_ARGS = "farmhand.worker.agent_args"


class _WorkerGroup(LazyGroup):
    """`worker list|get|run ...` as usual; `worker --farm-id F --fleet-id L` means `worker run ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.list_commands(ctx) and args[0] not in ctx.help_option_names:
            return super().parse_args(ctx, [_AGENT, *args])
        return super().parse_args(ctx, args)


@click.group(
    "worker",
    cls=_WorkerGroup,
    lazy_commands={_AGENT: LazyCommand("farmhand.worker:worker_command", "Run a worker agent in a fleet.")},
)
def worker_group() -> None:
    """Run a worker agent, or list and show the workers of a fleet.

    \b
    farmhand worker --farm-id F --fleet-id L     run an agent (same as `farmhand worker run ...`)
    farmhand worker list --fleet-id L            the fleet's workers
    """


def _fleet_ids(config: Any, farm_id: str, fleet_id: str | None) -> list[str]:
    if fleet_id:
        return [fleet_id]
    from .. import api

    return [str(fleet["fleetId"]) for fleet in api.list_fleets(config=config, farmId=farm_id)["fleets"]]


@worker_group.command("list")
@profile_option
@farm_option
@region_option
@click.option("--fleet-id", help="The fleet whose workers to list (default: every fleet of the farm).")
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--item-offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
def worker_list(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    fleet_id: str | None,
    page_size: int,
    item_offset: int,
    as_json: bool,
) -> None:
    """The workers of a fleet (or of every fleet of the farm)."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region)
    farm_id = require_farm_id(config)
    fleet_ids = _fleet_ids(config, farm_id, fleet_id)
    if not fleet_ids:
        response: dict[str, Any] = {"workers": [], "totalResults": 0}
    else:
        response = api.get_boto3_client("deadline", config=config).search_workers(
            farmId=farm_id, fleetIds=fleet_ids, itemOffset=item_offset, pageSize=page_size
        )
    if as_json:
        emit_json(
            {
                "workers": response.get("workers", []),
                "totalResults": response.get("totalResults", 0),
                "nextItemOffset": response.get("nextItemOffset"),
            }
        )
        return
    rows = [
        {**worker, "hostName": (worker.get("hostProperties") or {}).get("hostName", "")}
        for worker in response.get("workers", [])
    ]
    print_table(
        rows,
        [("workerId", "Worker ID"), ("fleetId", "Fleet ID"), ("status", "Status"), ("hostName", "Host")],
        status_columns=("status",),
        empty_message="No workers.",
    )
    if response.get("nextItemOffset") is not None:
        click.echo(f"More workers: --item-offset {response['nextItemOffset']}", err=True)


@worker_group.command("get")
@profile_option
@farm_option
@region_option
@click.option("--fleet-id", required=True, help="The worker's fleet.")
@click.option("--worker-id", required=True, help="The worker to show.")
@json_option
def worker_get(
    profile: str | None, farm_id: str | None, region: str | None, fleet_id: str, worker_id: str, as_json: bool
) -> None:
    """Details of one worker."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id, region=region)
    farm_id = require_farm_id(config)
    worker = api.get_boto3_client("deadline", config=config).get_worker(
        farmId=farm_id, fleetId=fleet_id, workerId=worker_id
    )
    if as_json:
        emit_json(worker)
    else:
        print_record(worker)
