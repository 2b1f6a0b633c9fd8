"""Creating a farm's structure from the command line: farms, queues, fleets, their associations and
storage profiles (the AWS `deadline` CLI has no commands for these).

`farm create` and `queue create` make what they created the default farm/queue of the profile
(unless `--no-defaults`); queues and fleets are named by id or by display name.
"""

from __future__ import annotations

import platform
from configparser import ConfigParser
from typing import Any

import click

from ...arns import arn
from ..config import get_setting, read_config, set_setting, write_config
from ._common import every_item, farm_option, load_config, profile_option, require_farm_id
from ._errors import CliUsageError
from ._output import emit_json, json_option, out_console

__all__ = [
    "association_group",
    "farm_add_member",
    "farm_create",
    "fleet_create",
    "queue_add_member",
    "queue_create",
    "storage_profile_group",
]

OS_FAMILIES = ("LINUX", "WINDOWS", "MACOS")


def _no_defaults_option(function: Any) -> Any:
    return click.option("--no-defaults", is_flag=True, help="Do not make it the profile's default.")(function)


def _remember_default(config: ConfigParser, name: str, value: str) -> None:
    """Write one default of the profile this command used into the config file."""
    on_disk = read_config()
    saved_profile = get_setting("defaults.aws_profile_name", on_disk)
    set_setting("defaults.aws_profile_name", get_setting("defaults.aws_profile_name", config), on_disk)
    if name == "defaults.queue_id":
        set_setting("defaults.farm_id", get_setting("defaults.farm_id", config), on_disk)
    set_setting(name, value, on_disk)
    set_setting("defaults.aws_profile_name", saved_profile, on_disk)
    write_config(on_disk)


def _created(as_json: bool, response: dict[str, Any], id_key: str, what: str) -> None:
    response.pop("ResponseMetadata", None)
    if as_json:
        emit_json(response)
    else:
        out_console().print(f"{what} {response[id_key]}")


def _resolve(deadline: Any, farm_id: str, kind: str, given: str) -> str:
    """The id of a queue or fleet given by id or by display name (which must be unique)."""
    if given.startswith(f"{kind}-"):
        return given
    items = every_item(deadline, f"list_{kind}s", f"{kind}s", farmId=farm_id)
    matches = [item[f"{kind}Id"] for item in items if item.get("displayName") == given]
    if len(matches) != 1:
        found = f"no {kind}" if not matches else f"{len(matches)} {kind}s"
        raise CliUsageError(f"There is {found} named {given!r} in {farm_id}: give the {kind} id instead.")
    return str(matches[0])


@click.command("create")
@click.argument("name")
@click.option("--description", help="What the farm is for.")
@profile_option
@_no_defaults_option
@json_option
def farm_create(
    name: str, description: str | None, profile: str | None, no_defaults: bool, as_json: bool
) -> None:
    """Create the farm NAME (its creator is its owner); prints its id."""
    from .. import api

    config = load_config(profile=profile)
    request: dict[str, Any] = {"displayName": name}
    if description:
        request["description"] = description
    response = dict(api.get_boto3_client("deadline", config=config).create_farm(**request))
    if not no_defaults:
        _remember_default(config, "defaults.farm_id", response["farmId"])
    _created(as_json, response, "farmId", "Created farm")


@click.command("create")
@click.argument("name")
@click.option("--description", help="What the queue is for.")
@click.option(
    "--run-as-user",
    metavar="USER[:GROUP]",
    help="Run jobs as this POSIX user (default: the worker agent's user).",
)
@click.option("--job-attachments-bucket", help="The bucket for the queue's job attachments...")
@click.option(
    "--job-attachments-root-prefix", default="DeadlineCloud", show_default=True, help="...and its prefix."
)
@profile_option
@farm_option
@_no_defaults_option
@json_option
def queue_create(
    name: str,
    description: str | None,
    run_as_user: str | None,
    job_attachments_bucket: str | None,
    job_attachments_root_prefix: str,
    profile: str | None,
    farm_id: str | None,
    no_defaults: bool,
    as_json: bool,
) -> None:
    """Create the queue NAME in the farm; prints its id."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id)
    farm = require_farm_id(config)
    request: dict[str, Any] = {"farmId": farm, "displayName": name}
    if description:
        request["description"] = description
    if run_as_user:
        user, _, group = run_as_user.partition(":")
        request["jobRunAsUser"] = {
            "posix": {"user": user, "group": group or user},
            "runAs": "QUEUE_CONFIGURED_USER",
        }
    else:
        request["jobRunAsUser"] = {"runAs": "WORKER_AGENT_USER"}
    if job_attachments_bucket:
        request["jobAttachmentSettings"] = {
            "s3BucketName": job_attachments_bucket,
            "rootPrefix": job_attachments_root_prefix,
        }
    response = dict(api.get_boto3_client("deadline", config=config).create_queue(**request))
    if not no_defaults:
        set_setting("defaults.farm_id", farm, config)
        _remember_default(config, "defaults.queue_id", response["queueId"])
    _created(as_json, response, "queueId", "Created queue")


def _this_machine() -> tuple[str, str]:
    os_family = {"Windows": "WINDOWS", "Darwin": "MACOS"}.get(platform.system(), "LINUX")
    architecture = "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"
    return os_family, architecture


@click.command("create")
@click.argument("name")
@click.option("--description", help="What the fleet is for.")
@click.option("--max-workers", type=click.IntRange(min=1), default=16, show_default=True)
@click.option(
    "--os-family", type=click.Choice(OS_FAMILIES), help="The workers' OS (default: this machine's)."
)
@click.option(
    "--cpu-architecture",
    type=click.Choice(("x86_64", "arm64")),
    help="The workers' CPUs (default: this machine's).",
)
@click.option("--role-arn", help="The fleet role (default: a farmhand role of the farm's account).")
@profile_option
@farm_option
@json_option
def fleet_create(
    name: str,
    description: str | None,
    max_workers: int,
    os_family: str | None,
    cpu_architecture: str | None,
    role_arn: str | None,
    profile: str | None,
    farm_id: str | None,
    as_json: bool,
) -> None:
    """Create the customer-managed fleet NAME (workers started with `farmhand worker`); prints its id."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id)
    farm = require_farm_id(config)
    machine_os, machine_cpu = _this_machine()
    if role_arn is None:
        account = api.get_boto3_client("sts", config=config).get_caller_identity()["Account"]
        role_arn = arn("iam", "role/farmhand-fleet", account=account)
    request: dict[str, Any] = {
        "farmId": farm,
        "displayName": name,
        "roleArn": role_arn,
        "minWorkerCount": 0,
        "maxWorkerCount": max_workers,
        "configuration": {
            "customerManaged": {
                "mode": "NO_SCALING",
                "workerCapabilities": {
                    "vCpuCount": {"min": 1},
                    "memoryMiB": {"min": 512},
                    "osFamily": os_family or machine_os,
                    "cpuArchitectureType": cpu_architecture or machine_cpu,
                },
            }
        },
    }
    if description:
        request["description"] = description
    response = dict(api.get_boto3_client("deadline", config=config).create_fleet(**request))
    _created(as_json, response, "fleetId", "Created fleet")


@click.group("queue-fleet-association")
def association_group() -> None:
    """Let a fleet's workers take a queue's jobs."""


@association_group.command("create")
@click.option("--queue", "queue", required=True, help="The queue (id or display name).")
@click.option("--fleet", "fleet", required=True, help="The fleet (id or display name).")
@profile_option
@farm_option
def association_create(queue: str, fleet: str, profile: str | None, farm_id: str | None) -> None:
    """Associate the fleet with the queue."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id)
    farm = require_farm_id(config)
    deadline = api.get_boto3_client("deadline", config=config)
    queue_id = _resolve(deadline, farm, "queue", queue)
    fleet_id = _resolve(deadline, farm, "fleet", fleet)
    deadline.create_queue_fleet_association(farmId=farm, queueId=queue_id, fleetId=fleet_id)
    out_console().print(f"Fleet {fleet_id} now takes the jobs of queue {queue_id}.")


@click.group("storage-profile")
def storage_profile_group() -> None:
    """Describe where the farm's hosts mount shared files (for path mapping)."""


def _location(text: str) -> dict[str, str]:
    name, equals, rest = text.partition("=")
    path, _, kind = (
        rest.rpartition(":") if rest.upper().endswith((":SHARED", ":LOCAL")) else (rest, "", "SHARED")
    )
    if not equals or not name or not path:
        raise CliUsageError(f"--location takes NAME=PATH[:SHARED|:LOCAL] (got {text!r}).")
    return {"name": name, "path": path, "type": kind.upper()}


@storage_profile_group.command("create")
@click.argument("name")
@click.option("--os-family", type=click.Choice(OS_FAMILIES), required=True, help="The hosts' OS.")
@click.option(
    "--location",
    "locations",
    multiple=True,
    metavar="NAME=PATH[:SHARED|:LOCAL]",
    help="A file system location of these hosts (repeatable; SHARED when not said).",
)
@profile_option
@farm_option
@json_option
def storage_profile_create(
    name: str,
    os_family: str,
    locations: tuple[str, ...],
    profile: str | None,
    farm_id: str | None,
    as_json: bool,
) -> None:
    """Create the storage profile NAME; prints its id."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id)
    farm = require_farm_id(config)
    request: dict[str, Any] = {"farmId": farm, "displayName": name, "osFamily": os_family}
    if locations:
        request["fileSystemLocations"] = [_location(text) for text in locations]
    response = dict(api.get_boto3_client("deadline", config=config).create_storage_profile(**request))
    _created(as_json, response, "storageProfileId", "Created storage profile")


@storage_profile_group.command("list")
@profile_option
@farm_option
@json_option
def storage_profile_list(profile: str | None, farm_id: str | None, as_json: bool) -> None:
    """The farm's storage profiles."""
    from .. import api
    from ._output import print_table

    config = load_config(profile=profile, farm_id=farm_id)
    farm = require_farm_id(config)
    deadline = api.get_boto3_client("deadline", config=config)
    profiles = every_item(deadline, "list_storage_profiles", "storageProfiles", farmId=farm)
    if as_json:
        emit_json({"storageProfiles": profiles})
        return
    print_table(
        profiles,
        [("displayName", "Name"), ("storageProfileId", "Storage profile ID"), ("osFamily", "OS")],
        empty_message="No storage profiles.",
    )


MEMBERSHIP_LEVELS = ("VIEWER", "CONTRIBUTOR", "MANAGER", "OWNER")


def _member_options(function: Any) -> Any:
    options = [
        click.option("--user", "user_name", help="The farm user to add (a user name)."),
        click.option("--group", "group_name", help="...or the group to add (a group name)."),
        click.option(
            "--level",
            type=click.Choice(MEMBERSHIP_LEVELS),
            default="VIEWER",
            show_default=True,
            help="VIEWER reads, CONTRIBUTOR also submits, MANAGER also manages jobs and members, OWNER all.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _principal(config: ConfigParser, user_name: str | None, group_name: str | None) -> dict[str, str]:
    """The membership's principal: a user or group of the farm's identity store, by name."""
    from ..sign_in import identity_client

    if (user_name is None) == (group_name is None):
        raise CliUsageError("Give --user NAME or --group NAME.")
    identity = identity_client(config)
    store = identity.get_identity_store()["identityStoreId"]
    if user_name is not None:
        principal_id = identity.get_user(userName=user_name)["principalId"]
        return {"principalId": principal_id, "principalType": "USER", "identityStoreId": store}
    groups = every_item(identity, "list_groups", "groups")
    matches = [g["principalId"] for g in groups if g["groupName"] == group_name]
    if not matches:
        raise CliUsageError(f"There is no group named {group_name!r}.")
    return {"principalId": matches[0], "principalType": "GROUP", "identityStoreId": store}


@click.command("add-member")
@_member_options
@profile_option
@farm_option
def farm_add_member(
    user_name: str | None, group_name: str | None, level: str, profile: str | None, farm_id: str | None
) -> None:
    """Give a user or group a membership level on the farm (and so on its queues, fleets and jobs)."""
    from .. import api

    config = load_config(profile=profile, farm_id=farm_id)
    farm = require_farm_id(config)
    principal = _principal(config, user_name, group_name)
    api.get_boto3_client("deadline", config=config).associate_member_to_farm(
        farmId=farm, membershipLevel=level, **principal
    )
    out_console().print(f"{user_name or group_name} is {level} of farm {farm}.")


@click.command("add-member")
@_member_options
@profile_option
@farm_option
@click.option("--queue-id", help="The queue (default: defaults.queue_id).")
def queue_add_member(
    user_name: str | None,
    group_name: str | None,
    level: str,
    profile: str | None,
    farm_id: str | None,
    queue_id: str | None,
) -> None:
    """Give a user or group a membership level on the queue (and so on its jobs)."""
    from .. import api
    from ._common import require_queue_id

    config = load_config(profile=profile, farm_id=farm_id, queue_id=queue_id)
    farm = require_farm_id(config)
    queue = require_queue_id(config)
    principal = _principal(config, user_name, group_name)
    api.get_boto3_client("deadline", config=config).associate_member_to_queue(
        farmId=farm, queueId=queue, membershipLevel=level, **principal
    )
    out_console().print(f"{user_name or group_name} is {level} of queue {queue}.")
