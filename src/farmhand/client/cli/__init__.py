"""The `farmhand` command line.

Every subcommand is imported only when it runs (see `_lazy_group`), so `farmhand --help` starts in
a fraction of the time the AWS `deadline` CLI needs. Failures print one line and exit non-zero.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from ... import __version__
from ._errors import CliError, describe_error
from ._lazy_group import LazyCommand, LazyGroup

__all__ = ["COMMANDS", "cli", "main"]

_CLI = "farmhand.client.cli."

COMMANDS: dict[str, LazyCommand] = {
    "attachment": LazyCommand(
        _CLI + "_attachment:attachment_group", "Upload or download the files listed in manifests."
    ),
    "auth": LazyCommand(_CLI + "_auth:auth_group", "Check which credentials reach the farm."),
    "bundle": LazyCommand(_CLI + "_bundle:bundle_group", "Submit Open Job Description job bundles."),
    "config": LazyCommand(_CLI + "_config:config_group", "Show and change the workstation configuration."),
    "farm": LazyCommand(_CLI + "_farm:farm_group", "Create farms, list them or show one."),
    "group": LazyCommand(_CLI + "_user:group_group", "Create groups of users and manage their members."),
    "fleet": LazyCommand(_CLI + "_fleet:fleet_group", "Create fleets, list them or show one."),
    "job": LazyCommand(_CLI + "_job:job_group", "Follow, wait for, explain, cancel and requeue jobs."),
    "login": LazyCommand(_CLI + "_sign_in:login_command", "Sign in to a farm (password or browser code)."),
    "logout": LazyCommand(_CLI + "_sign_in:logout_command", "Sign out: the farm revokes this sign-in."),
    "manifest": LazyCommand(
        _CLI + "_manifest:manifest_group", "Snapshot, compare, upload and download manifests."
    ),
    "profile": LazyCommand(_CLI + "_sign_in:profile_group", "Write AWS profiles that reach a farmhand farm."),
    "queue-fleet-association": LazyCommand(
        _CLI + "_farm_structure:association_group", "Let a fleet's workers take a queue's jobs."
    ),
    "queue": LazyCommand(_CLI + "_queue:queue_group", "Create or list queues, show one or its parameters."),
    "storage-profile": LazyCommand(
        _CLI + "_farm_structure:storage_profile_group", "Create or list the farm's storage profiles."
    ),
    "user": LazyCommand(_CLI + "_user:user_group", "Create and manage the farm's users."),
    "worker": LazyCommand(_CLI + "_worker:worker_group", "Run a worker agent, or list/show workers."),
    "server": LazyCommand("farmhand.server._command:server_command", "Run the farm server."),
    "backup": LazyCommand("farmhand.server._backup:backup_command", "Back up a SQLite farm while it runs."),
    "up": LazyCommand("farmhand.local:up_command", "Start an embedded farm: server and local workers."),
    "down": LazyCommand("farmhand.local:down_command", "Stop the embedded farm."),
    "status": LazyCommand("farmhand.local:status_command", "Show whether the embedded farm is running."),
}

_LOG_LEVELS = ("error", "warning", "info", "debug")
# 128 + SIGINT, as shells report it; distinct from `job wait`'s own exit codes 0-5.
_INTERRUPTED_EXIT_CODE = 130


class _FarmhandGroup(LazyGroup):
    """The root group: turns any failure below it into a one-line error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(_INTERRUPTED_EXIT_CODE) from None
        except BrokenPipeError:
            raise  # the reader went away (`| head`): click exits quietly
        except Exception as error:
            line = describe_error(error)
            debug = logging.getLogger().isEnabledFor(logging.DEBUG)
            if debug:
                logging.getLogger("farmhand").exception("command failed")
            if line is None:
                hint = "" if debug else " (run with --log-level debug for the traceback)"
                line = f"unexpected {type(error).__name__}: {error}{hint}"
            raise CliError(line) from error


@click.group(
    cls=_FarmhandGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="farmhand")
@click.option(
    "--log-level",
    type=click.Choice(_LOG_LEVELS, case_sensitive=False),
    default=None,
    help="Log at this level on stderr (default: settings.log_level).",
)
def cli(log_level: str | None) -> None:
    """farmhand: a render farm that speaks the AWS Deadline Cloud API.

    \b
    Submit a job:          farmhand bundle submit ./bundle --yes --wait
    Watch it:              farmhand job wait JOB_ID
    Read its logs:         farmhand job logs JOB_ID --follow
    Why did it fail?       farmhand job why JOB_ID
    Run a farm locally:    farmhand up
    """
    if log_level is None:
        from ..config import get_setting

        try:
            log_level = get_setting("settings.log_level").lower()
        except Exception:
            log_level = "warning"
        if log_level not in _LOG_LEVELS:
            log_level = "warning"
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="farmhand")
