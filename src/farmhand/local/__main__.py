"""`python -m farmhand.local`: the detached supervisor that `farmhand up --detach` starts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._database_url import DATABASE_URL_ENV
from ._supervisor import DEFAULT_PORT, FarmOptions, run_supervisor_forever


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--port", type=int, default=DEFAULT_PORT)
@click.option("--host", default="127.0.0.1")
@click.option("--workers", type=click.IntRange(min=0), default=1)
@click.option("--profile-name", default="farmhand")
@click.option("--no-defaults", is_flag=True)
@click.option("--database-url", default=None, envvar=DATABASE_URL_ENV)
@click.option("--object-stores", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--attachments-bucket", default=None)
@click.option("--server-arg", "server_args", multiple=True)
@click.option("--ca-bundle", default=None)
@click.option("--worker-failure-cap", type=click.IntRange(min=0), default=None)
def supervise(
    data_dir: Path,
    port: int,
    host: str,
    workers: int,
    profile_name: str,
    no_defaults: bool,
    database_url: str | None,
    object_stores: Path | None,
    attachments_bucket: str | None,
    server_args: tuple[str, ...],
    ca_bundle: str | None,
    worker_failure_cap: int | None,
) -> None:
    """Run one embedded farm until SIGTERM."""
    options = FarmOptions(
        data_dir=data_dir.resolve(),
        port=port,
        host=host,
        workers=workers,
        profile_name=profile_name,
        set_defaults=not no_defaults,
        database_url=database_url,
        object_stores=object_stores,
        attachments_bucket=attachments_bucket,
        server_tls_args=server_args,
        ca_bundle=ca_bundle,
        worker_failure_cap=worker_failure_cap,
    )
    sys.exit(run_supervisor_forever(options, announce=lambda message: print(message, flush=True)))


supervise()
