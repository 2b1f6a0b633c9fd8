"""`farmhand profile add`, `farmhand login`, `farmhand logout`: reaching a farm as a person or its admin."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..config import get_setting, set_setting
from ._common import load_config
from ._errors import CliUsageError
from ._output import err_console, out_console
from ._passwords import password_stdin_option, read_password

__all__ = ["login_command", "logout_command", "profile_group"]

ADMIN_CREDENTIALS_FILE = "admin-credentials.json"


@click.group("profile")
def profile_group() -> None:
    """Write AWS profiles that reach a farmhand farm."""


@profile_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The farm's address, e.g. https://farm.example:8080.")
@click.option("--user", "user_name", help="Sign in as this farm user (a sign-in profile).")
@click.option("--admin", is_flag=True, help="Sign with the farm admin's keys instead of signing in.")
@click.option(
    "--admin-credentials",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help=f"The admin's {ADMIN_CREDENTIALS_FILE} (default: the one in --data-dir).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The farm server's data directory (where it wrote the admin credentials).",
)
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="CA certificates that verify the farm's TLS certificate.",
)
@click.option("--region", default="us-west-2", show_default=True, help="The region the profile signs for.")
@click.option(
    "--no-defaults", is_flag=True, help="Do not make NAME the default profile (defaults.aws_profile_name)."
)
def profile_add(
    name: str,
    url: str,
    user_name: str | None,
    admin: bool,
    admin_credentials: Path | None,
    data_dir: Path | None,
    ca_bundle: Path | None,
    region: str,
    no_defaults: bool,
) -> None:
    """Write the AWS profile NAME for the farm at --url: signing in as --user, or with --admin keys.

    \b
    farmhand profile add studio --url https://farm.example:8080 --user alice
    farmhand login --profile studio
    farmhand profile add farm-admin --url https://farm.example:8080 --admin --data-dir /srv/farmhand
    """
    from ..sign_in import add_admin_profile, add_sign_in_profile

    if not url.startswith(("http://", "https://")):
        raise CliUsageError(f"--url must start with http:// or https:// (got {url!r}).")
    bundle = str(ca_bundle.resolve()) if ca_bundle else None
    if admin:
        if user_name:
            raise CliUsageError("Give either --user (sign in) or --admin (admin keys), not both.")
        source = admin_credentials or (data_dir / ADMIN_CREDENTIALS_FILE if data_dir else None)
        if source is None:
            raise CliUsageError("--admin needs --admin-credentials FILE or the server's --data-dir.")
        try:
            keys = json.loads(source.read_text())
            access_key, secret_key = keys["aws_access_key_id"], keys["aws_secret_access_key"]
        except (OSError, ValueError, KeyError) as error:
            raise CliUsageError(f"Cannot read the admin credentials in {source}: {error}") from error
        path = add_admin_profile(name, url, access_key, secret_key, ca_bundle=bundle, region=region)
        what = "signs with the farm admin's keys"
    else:
        if not user_name:
            raise CliUsageError("Give --user USER (a sign-in profile) or --admin.")
        path = add_sign_in_profile(name, url, user_name, ca_bundle=bundle, region=region)
        what = f"signs in as {user_name}: run `farmhand login --profile {name}`"
    if not no_defaults:
        set_setting("defaults.aws_profile_name", name)
    out_console().print(f"Profile {name} written to {path}; it {what}.")


def _profile_name(profile: str | None) -> str:
    name = profile or get_setting("defaults.aws_profile_name", load_config())
    if name in ("", "(default)", "default"):
        return "default"
    return name


@click.command("login")
@click.option("--profile", help="The sign-in profile (default: defaults.aws_profile_name).")
@click.option("--user", "user_name", help="Sign in as this user (default: the profile's user).")
@password_stdin_option
@click.option("--device", is_flag=True, help="Approve a code in a browser instead of typing a password.")
def login_command(profile: str | None, user_name: str | None, password_stdin: bool, device: bool) -> None:
    """Sign in: type the password (or pipe it with --password-stdin), or approve a code in a browser.

    Without a terminal and without --password-stdin, a code is shown to approve on the farm's
    sign-in page.
    """
    from ..sign_in import (
        DeviceCode,
        device_code_lines,
        open_in_browser,
        sign_in_with_device,
        sign_in_with_password,
    )

    name = _profile_name(profile)
    if device or (not password_stdin and not sys.stdin.isatty()):

        def show(code: DeviceCode) -> None:
            err_console().print(device_code_lines(code), end="", highlight=False, soft_wrap=True)
            open_in_browser(code.verification_uri_complete)

        stored = sign_in_with_device(name, show)
    else:
        password = read_password(password_stdin)
        stored = sign_in_with_password(name, password, user_name)
    out_console().print(f"Signed in to {stored.url} as {stored.user_name} (profile {name}).")


@click.command("logout")
@click.option("--profile", help="The sign-in profile (default: defaults.aws_profile_name).")
def logout_command(profile: str | None) -> None:
    """Sign out: the farm revokes the profile's refresh token and credentials; this machine forgets them."""
    from ..sign_in import sign_out

    out_console().print(sign_out(_profile_name(profile)))
