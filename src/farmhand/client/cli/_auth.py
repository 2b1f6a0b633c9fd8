"""`farmhand auth status`: which profile and credentials this workstation uses, and whether they work."""

from __future__ import annotations

import click

from ..config import get_setting
from ._common import load_config, profile_option
from ._output import emit_json, json_option, out_console

__all__ = ["auth_group"]


@click.group("auth")
def auth_group() -> None:
    """Check which credentials reach the farm."""


@auth_group.command("status")
@profile_option
@json_option
def auth_status(profile: str | None, as_json: bool) -> None:
    """The profile, where its credentials come from and whether the farm accepts them.

    Exits 0 when authenticated, 1 otherwise.
    """
    from .. import api

    config = load_config(profile=profile)
    profile_name = get_setting("defaults.aws_profile_name", config)
    source = api.get_credentials_source(config=config)
    if source == api.AwsCredentialsSource.NOT_VALID:
        status_name = "CONFIGURATION_ERROR"
        detail = f"the AWS profile '{profile_name}' does not exist"
    else:
        status_name = api.check_authentication_status(config=config).name
        detail = ""
    authenticated = status_name == "AUTHENTICATED"
    if as_json:
        emit_json(
            {
                "profile": profile_name,
                "source": source.name,
                "status": status_name,
                "apiAvailability": authenticated,
            }
        )
    else:
        console = out_console()
        console.print(f"[bold]Profile:[/bold]   {profile_name}")
        console.print(f"[bold]Source:[/bold]    {source.name}")
        style = "green" if authenticated else "bold red"
        suffix = f" ({detail})" if detail else ""
        console.print(f"[bold]Status:[/bold]    [{style}]{status_name}[/{style}]{suffix}")
    if not authenticated:
        raise click.exceptions.Exit(1)
