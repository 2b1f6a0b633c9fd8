"""The `farmhand server` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .._database_url import database_url_options, resolve_database_url
from ._config_file import config_file_option
from ._runtime import (
    DEFAULT_BODY_READ_TIMEOUT_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_OBJECT_BYTES,
    DEFAULT_MAX_TASKS_PER_JOB,
    DEFAULT_REQUEST_THREADS,
    ServerConfig,
    ServerRuntime,
)
from ._serve import PortInUseError, serve
from .farm_secret import FarmSecretError
from .operations import MetricsAccess, RetentionSettings
from .scheduler import DEFAULT_FAILURE_CAP
from .store import PoolSettings, StoreUnavailableError
from .tls import resolve_tls, tls_options


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "farmhand"


@click.command("server")
@config_file_option
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Where the farm keeps its data."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=8080, show_default=True, help="Port to listen on (0 picks a free one)."
)
@database_url_options
@click.option(
    "--database-pool-size",
    type=click.IntRange(min=1),
    default=PoolSettings.size,
    show_default=True,
    envvar="FARMHAND_DATABASE_POOL_SIZE",
    help="PostgreSQL connections this server keeps open (it may open as many again under load).",
)
@click.option(
    "--database-pool-timeout",
    type=click.FloatRange(min=0.1),
    default=PoolSettings.timeout_seconds,
    show_default=True,
    envvar="FARMHAND_DATABASE_POOL_TIMEOUT",
    help="Seconds a call waits for a free database connection before it is answered "
    "ThrottlingException (retried by every client).",
)
@click.option(
    "--request-threads",
    type=click.IntRange(min=2),
    default=DEFAULT_REQUEST_THREADS,
    show_default=True,
    envvar="FARMHAND_REQUEST_THREADS",
    help="Requests this server works on at once (waiting long polls of idle workers hold none).",
)
@click.option("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, show_default=True)
@click.option(
    "--body-read-timeout",
    "body_read_timeout_seconds",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_BODY_READ_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds a request body may stall before the request is answered 408 and closed.",
)
@click.option(
    "--max-object-bytes",
    type=int,
    default=DEFAULT_MAX_OBJECT_BYTES,
    show_default=True,
    help="The largest object (or multipart part) the farm's S3 endpoint accepts in one PUT.",
)
@click.option(
    "--max-tasks-per-job",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_TASKS_PER_JOB,
    show_default=True,
    envvar="FARMHAND_MAX_TASKS_PER_JOB",
    help="CreateJob refuses a job whose parameter spaces hold more tasks than this.",
)
@click.option(
    "--worker-timeout-seconds",
    type=float,
    default=None,
    envvar="FARMHAND_WORKER_TIMEOUT_SECONDS",
    help="Silence after which a worker is NOT_RESPONDING and its work goes back to READY "
    "(default: max(60, 5 x poll interval)).",
)
@click.option(
    "--worker-failure-cap",
    type=int,
    default=DEFAULT_FAILURE_CAP,
    show_default=True,
    envvar="FARMHAND_WORKER_FAILURE_CAP",
    help="A worker that failed this many tasks of a job gets no more of that job while another "
    "worker can take them (0: no cap).",
)
@click.option(
    "--object-stores",
    "object_stores_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    envvar="FARMHAND_OBJECT_STORES",
    help="A private TOML file naming external S3-compatible stores and the queue buckets they hold.",
)
@tls_options
@click.option(
    "--metrics-access",
    type=click.Choice([a.value for a in MetricsAccess]),
    default=MetricsAccess.LOCAL.value,
    show_default=True,
    envvar="FARMHAND_METRICS_ACCESS",
    help="Who may read /metrics: clients on this host (local), anyone (open), holders of the bearer "
    "token (token: FARMHAND_METRICS_TOKEN or --metrics-token-file), nobody (off).",
)
@click.option(
    "--metrics-token-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    envvar="FARMHAND_METRICS_TOKEN_FILE",
    help="A private file holding the bearer token of --metrics-access token.",
)
@click.option("--metrics-token", default=None, envvar="FARMHAND_METRICS_TOKEN", hidden=True)
@click.option(
    "--archived-job-retention-days",
    type=click.FloatRange(min=0),
    default=None,
    envvar="FARMHAND_ARCHIVED_JOB_RETENTION_DAYS",
    help="Purge archived jobs (with their tasks, sessions and logs) this many days after they were "
    "archived (default: keep them).",
)
@click.option(
    "--retention-interval-seconds",
    type=click.FloatRange(min=0.1),
    default=RetentionSettings.every_seconds,
    hidden=True,
    help="How often retention is applied.",
)
def server_command(
    data_dir: Path | None,
    host: str,
    port: int,
    database_url: str | None,
    database_url_file: Path | None,
    database_pool_size: int,
    database_pool_timeout: float,
    request_threads: int,
    max_body_bytes: int,
    body_read_timeout_seconds: float,
    max_object_bytes: int,
    max_tasks_per_job: int,
    worker_timeout_seconds: float | None,
    worker_failure_cap: int,
    object_stores_file: Path | None,
    tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_names: tuple[str, ...],
    insecure_http: bool,
    metrics_access: str,
    metrics_token_file: Path | None,
    metrics_token: str | None,
    archived_job_retention_days: float | None,
    retention_interval_seconds: float,
) -> None:
    """Run the farm server (Deadline Cloud API, CloudWatch Logs, STS, telemetry) until interrupted."""
    # Everything the server creates is its owner's alone (the data dir also sets modes explicitly).
    os.umask(0o077)
    database_url = resolve_database_url(database_url, database_url_file)
    resolved_dir = (data_dir or default_data_dir()).resolve()
    tls_files = resolve_tls(resolved_dir, host, tls, tls_cert, tls_key, tls_names, insecure_http)
    if metrics_token_file is not None:
        metrics_token = metrics_token_file.read_text().strip()
    if metrics_access == MetricsAccess.TOKEN.value and not metrics_token:
        raise click.UsageError(
            "--metrics-access token needs a token: FARMHAND_METRICS_TOKEN or --metrics-token-file"
        )
    config = ServerConfig(
        data_dir=resolved_dir,
        database_url=database_url,
        database_pool=PoolSettings(
            size=database_pool_size, overflow=database_pool_size * 2, timeout_seconds=database_pool_timeout
        ),
        host=host,
        port=port,
        request_threads=request_threads,
        max_body_bytes=max_body_bytes,
        body_read_timeout_seconds=body_read_timeout_seconds,
        max_tasks_per_job=max_tasks_per_job,
        max_object_bytes=max_object_bytes,
        worker_timeout_seconds=worker_timeout_seconds,
        worker_failure_cap=worker_failure_cap,
        object_stores_file=object_stores_file,
        tls=tls_files,
        metrics_access=MetricsAccess(metrics_access),
        metrics_token=metrics_token,
        retention=RetentionSettings(
            archived_job_days=archived_job_retention_days, every_seconds=retention_interval_seconds
        ),
    )

    def ready(url: str, runtime: ServerRuntime) -> None:
        # What the operator needs first, then the line that says the server serves.
        if tls_files is not None and tls_files.ca_bundle is not None:
            click.echo(f"Clients verify the farm with the CA certificate {tls_files.ca_bundle}")
        if runtime.admin_credentials_written:
            click.echo(
                f"The admin's credentials are in {runtime.admin_credentials_file} (readable by this user "
                f"only); a profile for them: farmhand profile add NAME --url {url} --admin "
                f"--data-dir {config.data_dir}"
            )
        click.echo(f"farmhand server ready at {url} (data in {config.data_dir})", err=False)
        sys.stdout.flush()

    try:
        serve(config, ready)
    except PortInUseError as exc:
        raise click.ClickException(str(exc)) from exc
    except (ValueError, FarmSecretError) as exc:  # a refused object-stores file or farm secret
        raise click.ClickException(str(exc)) from exc
    except StoreUnavailableError as exc:  # a bad --database-url or an unreachable database
        raise click.ClickException(str(exc)) from exc


def main() -> None:
    server_command()
