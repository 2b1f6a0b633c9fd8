"""`farmhand config`: the workstation config file shared with the AWS `deadline` CLI."""

from __future__ import annotations

import click

from ..config import SETTINGS, clear_setting, get_config_file_path, get_setting, read_config, set_setting
from ._output import emit_json, json_option, print_table

__all__ = ["config_group"]


@click.group("config")
def config_group() -> None:
    """Show and change the workstation configuration (~/.deadline/config or DEADLINE_CONFIG_FILE_PATH).

    The file is the one the AWS Deadline Cloud client uses: both tools share one configuration.
    """


@config_group.command("show")
@json_option
def config_show(as_json: bool) -> None:
    """Every setting with its current value (scoped settings for the current profile/farm/queue)."""
    config = read_config()
    values = {name: get_setting(name, config) for name in SETTINGS}
    path = str(get_config_file_path())
    if as_json:
        emit_json({"settings.config_file_path": path, **values})
        return
    click.echo(f"Configuration file: {path}")
    rows = [
        {"name": name, "value": value, "default": "" if value != SETTINGS[name].default else "(default)"}
        for name, value in values.items()
    ]
    print_table(rows, [("name", "Setting"), ("value", "Value"), ("default", "")])


@config_group.command("get")
@click.argument("name")
def config_get(name: str) -> None:
    """Print the value of setting NAME (for example defaults.farm_id)."""
    click.echo(get_setting(name))


@config_group.command("set")
@click.argument("name")
@click.argument("value")
def config_set(name: str, value: str) -> None:
    """Set setting NAME to VALUE in the config file."""
    set_setting(name, value)


@config_group.command("clear")
@click.argument("name")
def config_clear(name: str) -> None:
    """Reset setting NAME to its default value."""
    clear_setting(name)
