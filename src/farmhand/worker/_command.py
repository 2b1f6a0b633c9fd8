"""`farmhand worker`: run a worker agent in a fleet of a farm."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from botocore.exceptions import BotoCoreError, ClientError

from ._agent import WorkerAgent
from ._config import DataDirInUseError, WorkerConfig, default_data_dir


@click.command("worker")
@click.option("--farm-id", envvar="FARMHAND_WORKER_FARM_ID", required=True, help="Farm the fleet belongs to.")
@click.option("--fleet-id", envvar="FARMHAND_WORKER_FLEET_ID", required=True, help="Fleet to work in.")
@click.option(
    "--profile",
    envvar="FARMHAND_WORKER_PROFILE",
    default=None,
    help="AWS profile with bootstrap credentials.",
)
@click.option(
    "--data-dir",
    envvar="FARMHAND_WORKER_DATA_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Worker id, credentials cache, session directories and local logs (one per worker) "
    "[default: ~/.local/share/farmhand-worker].",
)
@click.option("--region", default=None, help="Region when the profile and environment name none.")
@click.option(
    "--poll-wait-seconds",
    type=click.IntRange(0, 60),
    default=10,
    show_default=True,
    help="How long the farm may hold a schedule request while the worker is idle.",
)
@click.option("--retain-session-dirs", is_flag=True, help="Keep session working directories (debugging).")
@click.option(
    "--attachment-cache-dir",
    envvar="FARMHAND_ATTACHMENT_CACHE_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="This host's cache of job-attachment inputs, shared by its workers "
    "(default: ~/.cache/farmhand/attachments).",
)
@click.option("--no-attachment-cache", is_flag=True, help="Download every session's inputs anew.")
@click.option(
    "--farm-objects-dir",
    envvar="FARMHAND_FARM_OBJECTS_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="On the farm's own host: its object store (<farm data dir>/objects), read directly for "
    "inputs instead of through the S3 endpoint (farmhand up sets it for its workers).",
)
@click.option("--verbose", "-v", is_flag=True, help="Log debug detail.")
def worker_command(
    farm_id: str,
    fleet_id: str,
    profile: str | None,
    data_dir: Path | None,
    region: str | None,
    poll_wait_seconds: int,
    retain_session_dirs: bool,
    attachment_cache_dir: Path | None,
    no_attachment_cache: bool,
    farm_objects_dir: Path | None,
    verbose: bool,
) -> None:
    """Run a worker: register in the fleet, take sessions from the farm, run them with OpenJD.

    Endpoints come from the profile's `services` section or the AWS_ENDPOINT_URL_* variables, as
    for any boto3 client (set AWS_DISABLE_HOST_PREFIX_INJECTION=true for a farmhand farm). Tasks run
    as the user running this command. SIGTERM drains: running actions are interrupted and reported.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("openjd.sessions").propagate = False  # session output goes to the session logs
    for noisy in ("botocore", "urllib3", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = WorkerConfig(
        farm_id=farm_id,
        fleet_id=fleet_id,
        data_dir=data_dir or default_data_dir(),
        profile=profile,
        region=region,
        poll_wait_seconds=poll_wait_seconds,
        retain_session_dirs=retain_session_dirs,
        farm_objects_dir=farm_objects_dir,
    )
    if no_attachment_cache:
        config.attachment_cache_dir = None
    elif attachment_cache_dir is not None:
        config.attachment_cache_dir = attachment_cache_dir
    agent = WorkerAgent(config, announce=lambda line: click.echo(line, err=False))
    try:
        code = agent.run(handle_signals=True)
    except DataDirInUseError as error:
        raise click.ClickException(str(error)) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        raise click.ClickException(
            f"the farm refused {error.operation_name}: {details.get('Code')}: {details.get('Message')}"
        ) from error
    except (ValueError, BotoCoreError) as error:
        raise click.ClickException(str(error)) from error
    sys.exit(code)
