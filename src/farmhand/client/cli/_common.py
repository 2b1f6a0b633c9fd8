"""Options every farm-facing command shares, and the in-memory config they build.

`--profile`, `--farm-id`, `--region`, `--queue-id`, `--job-id` and `--yes` change a private copy of
the workstation config for this one command; they are never written back to the config file.
"""

from __future__ import annotations

from collections.abc import Callable
from configparser import ConfigParser
from typing import Any, TypeVar

import click

from ..config import get_setting, read_config, set_setting
from ._errors import CliUsageError

__all__ = [
    "every_item",
    "farm_option",
    "job_argument",
    "job_option",
    "load_config",
    "profile_option",
    "queue_option",
    "region_option",
    "require_farm_id",
    "require_job_id",
    "require_queue_id",
    "yes_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def profile_option(function: F) -> F:
    return click.option("--profile", help="The AWS profile to use (default: defaults.aws_profile_name).")(
        function
    )


def farm_option(function: F) -> F:
    return click.option("--farm-id", help="The farm to use (default: defaults.farm_id).")(function)


def region_option(function: F) -> F:
    return click.option("--region", help="The AWS region of the farm (default: defaults.farm_region).")(
        function
    )


def queue_option(function: F) -> F:
    return click.option("--queue-id", help="The queue to use (default: defaults.queue_id).")(function)


def job_option(function: F) -> F:
    return click.option("--job-id", "job_id_option", help="The job (default: defaults.job_id).")(function)


def job_argument(function: F) -> F:
    """An optional JOB_ID argument, the same as `--job-id`."""
    return click.argument("job_id", required=False, metavar="[JOB_ID]")(job_option(function))


def yes_option(function: F) -> F:
    return click.option("--yes", is_flag=True, help="Answer yes to every confirmation prompt.")(function)


def _record_command_name() -> None:
    """The dotted command path goes into the user agent, as the AWS CLI does (`farmhand.job.wait`)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return
    from ..api import session_context

    session_context["cli-command-name"] = context.command_path.replace(" ", ".")


def load_config(
    *,
    profile: str | None = None,
    farm_id: str | None = None,
    region: str | None = None,
    queue_id: str | None = None,
    storage_profile_id: str | None = None,
    yes: bool = False,
) -> ConfigParser:
    """A private copy of the config with this command's options applied (scoped settings in order)."""
    _record_command_name()
    config = read_config()
    if profile:
        set_setting("defaults.aws_profile_name", profile, config)
    if farm_id:
        set_setting("defaults.farm_id", farm_id, config)
    if region:
        set_setting("defaults.farm_region", region, config)
    if queue_id:
        set_setting("defaults.queue_id", queue_id, config)
    if storage_profile_id:
        set_setting("settings.storage_profile_id", storage_profile_id, config)
    if yes:
        set_setting("settings.auto_accept", "true", config)
    return config


def require_farm_id(config: ConfigParser) -> str:
    """The configured farm, else the only farm the profile can see, else a usage error."""
    farm_id = get_setting("defaults.farm_id", config)
    if farm_id:
        return farm_id
    from .. import api

    farms = api.list_farms(config=config)["farms"]
    if len(farms) == 1:
        farm_id = str(farms[0]["farmId"])
        set_setting("defaults.farm_id", farm_id, config)
        if farms[0].get("region") and not get_setting("defaults.farm_region", config):
            set_setting("defaults.farm_region", str(farms[0]["region"]), config)
        return farm_id
    found = f"{len(farms)} farms found" if farms else "no farm found"
    raise CliUsageError(f"Missing '--farm-id' or default Farm ID configuration ({found}).")


def require_queue_id(config: ConfigParser) -> str:
    """The configured queue, else the farm's only queue, else a usage error."""
    farm_id = require_farm_id(config)
    queue_id = get_setting("defaults.queue_id", config)
    if queue_id:
        return queue_id
    from .. import api

    queues = api.list_queues(config=config, farmId=farm_id)["queues"]
    if len(queues) == 1:
        queue_id = str(queues[0]["queueId"])
        set_setting("defaults.queue_id", queue_id, config)
        return queue_id
    found = f"{len(queues)} queues in {farm_id}" if queues else f"no queue in {farm_id}"
    raise CliUsageError(f"Missing '--queue-id' or default Queue ID configuration ({found}).")


def require_job_id(config: ConfigParser, argument: str | None, option: str | None = None) -> str:
    """The job named by JOB_ID or `--job-id` (they must agree), else defaults.job_id of the queue."""
    if argument and option and argument != option:
        raise CliUsageError(f"The job was given twice with different values: {argument} and {option}.")
    job_id = argument or option or get_setting("defaults.job_id", config)
    if not job_id:
        raise CliUsageError("Missing JOB_ID (or '--job-id', or a default Job ID configuration).")
    return job_id


def every_item(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list operation, through botocore's paginator for it."""
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items
