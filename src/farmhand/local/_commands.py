"""`farmhand up`, `farmhand down` and `farmhand status`."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from .._database_url import database_url_options, resolve_database_url
from ..server.scheduler import DEFAULT_FAILURE_CAP
from ..server.tls import resolve_tls, tls_options
from ._state import FarmState, default_data_dir, farm_is_running, read_state, remove_state, running_farm
from ._supervisor import DEFAULT_PORT, FarmOptions, start_supervisor_process

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="FARMHAND_DATA_DIR",
    help="Where the farm keeps its database, logs and worker state "
    "[env FARMHAND_DATA_DIR; default: ~/.local/share/farmhand].",
)


def _resolve_data_dir(data_dir: Path | None) -> Path:
    return (data_dir or default_data_dir()).expanduser().resolve()


def _describe(state: FarmState, workers_alive: int | None = None) -> str:
    count = f"{state.workers}" if workers_alive is None else f"{workers_alive}/{state.workers}"
    workers = f"{count} worker{'' if state.workers == 1 else 's'}"
    return "\n".join(
        [
            f"farmhand farm running at {state.url}",
            f"  farm     Local Farm     {state.farm_id}",
            f"  queue    Default        {state.queue_id}",
            f"  fleet    Local Workers  {state.fleet_id} ({workers})",
            f"  profile  {state.profile_name} (AWS config and credentials files)",
            f"  data     {state.data_dir} (logs in {Path(state.data_dir) / 'logs'})",
            f"  pid      {state.supervisor_pid}",
        ]
    )


def _data_dir_flag(data_dir: Path) -> str:
    return "" if data_dir == default_data_dir().resolve() else f" --data-dir {data_dir}"


@click.command("up")
@data_dir_option
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Local workers to run; 0 runs the server alone [default: the CPU count].",
)
@click.option(
    "--port",
    type=int,
    default=DEFAULT_PORT,
    envvar="FARMHAND_PORT",
    show_default=True,
    help="Port of the server [env FARMHAND_PORT]; 0 picks a free one.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the server listens on.")
@click.option("--profile-name", default="farmhand", show_default=True, help="AWS profile to write.")
@click.option("--no-defaults", is_flag=True, help="Leave the deadline config defaults alone.")
@click.option("--detach", is_flag=True, help="Run in the background; stop with `farmhand down`.")
@database_url_options
@click.option(
    "--object-stores",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    envvar="FARMHAND_OBJECT_STORES",
    help="A private TOML file naming external S3-compatible stores and their buckets (see the README).",
)
@click.option(
    "--attachments-bucket",
    default=None,
    help="The bucket of --object-stores the Default queue keeps its job attachments in.",
)
@tls_options
@click.option(
    "--worker-failure-cap",
    type=click.IntRange(min=0),
    default=None,
    help="A worker that has failed this many tasks of a job gets no more of them while another "
    f"worker can take them; 0 turns the cap off [default: the server's, {DEFAULT_FAILURE_CAP}].",
)
def up_command(
    data_dir: Path | None,
    workers: int | None,
    port: int,
    host: str,
    profile_name: str,
    no_defaults: bool,
    detach: bool,
    database_url: str | None,
    object_stores: Path | None,
    attachments_bucket: str | None,
    database_url_file: Path | None,
    tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_names: tuple[str, ...],
    insecure_http: bool,
    worker_failure_cap: int | None,
) -> None:
    """Start the embedded farm: server, local workers, an AWS profile and config defaults."""
    database_url = resolve_database_url(database_url, database_url_file)
    resolved_dir = _resolve_data_dir(data_dir)
    tls_files = resolve_tls(resolved_dir, host, tls, tls_cert, tls_key, tls_names, insecure_http)
    options = FarmOptions(
        data_dir=resolved_dir,
        port=port,
        host=host,
        workers=(os.cpu_count() or 1) if workers is None else workers,
        profile_name=profile_name,
        set_defaults=not no_defaults,
        database_url=database_url,
        object_stores=object_stores.resolve() if object_stores else None,
        attachments_bucket=attachments_bucket,
        server_tls_args=_server_tls_args(tls, tls_cert, tls_key, tls_names, insecure_http),
        ca_bundle=str(tls_files.ca_bundle) if tls_files and tls_files.ca_bundle else None,
        worker_failure_cap=worker_failure_cap,
    )
    _check_attachments_bucket(options)
    existing = running_farm(options.data_dir)
    if existing is not None or farm_is_running(options.data_dir):
        _report_running(existing, options.data_dir)
        return
    if detach:
        _start_detached(options)
    else:
        _run_in_foreground(options)


def _check_attachments_bucket(options: FarmOptions) -> None:
    """Refuse a stores file others can read, or a bucket no store of it holds, before starting."""
    if options.attachments_bucket and not options.object_stores:
        raise click.UsageError("--attachments-bucket names a bucket of --object-stores: give both")
    if options.object_stores is None:
        return
    from ..server.buckets import load_external_stores

    try:
        stores = load_external_stores(options.object_stores)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from error
    if options.attachments_bucket and not any(options.attachments_bucket in s.config.buckets for s in stores):
        raise click.ClickException(
            f"bucket {options.attachments_bucket} is not in any store of {options.object_stores}"
        )


def _server_tls_args(
    tls: bool, tls_cert: Path | None, tls_key: Path | None, tls_names: tuple[str, ...], insecure_http: bool
) -> tuple[str, ...]:
    """The TLS options of `farmhand up` as `farmhand server` takes them."""
    args: list[str] = []
    if tls:
        args.append("--tls")
    if tls_cert is not None and tls_key is not None:
        args += ["--tls-cert", str(tls_cert.resolve()), "--tls-key", str(tls_key.resolve())]
    for name in tls_names:
        args += ["--tls-name", name]
    if insecure_http:
        args.append("--insecure-http")
    return tuple(args)


def _report_running(state: FarmState | None, data_dir: Path) -> None:
    if state is None or not state.ready:
        click.echo(f"A farm is starting in {data_dir}; check it with `farmhand status`.")
        return
    click.echo(_describe(state))
    click.echo(f"Already running; stop it with `farmhand down{_data_dir_flag(data_dir)}`.")


def _start_detached(options: FarmOptions) -> None:
    from ._supervisor import FarmStartError

    try:
        state, _ = start_supervisor_process(options)
    except FarmStartError as error:
        raise click.ClickException(str(error)) from error
    click.echo(_describe(state))
    click.echo(f"Stop it with `farmhand down{_data_dir_flag(options.data_dir)}`.")


def _run_in_foreground(options: FarmOptions) -> None:
    from rich.console import Console
    from rich.live import Live

    from ._status_line import TaskCounts, admin_deadline_client, status_line, task_counts
    from ._supervisor import FarmStartError, Supervisor

    console = Console(highlight=False)
    supervisor = Supervisor(options, announce=lambda message: console.print(message))

    def request_stop(signum: int, frame: Any) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    try:
        with console.status("starting the farm…"):
            state = supervisor.start()
    except FarmStartError as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        raise click.Abort() from None
    signal.signal(signal.SIGINT, request_stop)
    console.print(_describe(state))
    console.print("Press Ctrl-C to stop.")
    deadline = admin_deadline_client(state)
    counts: TaskCounts | None = None
    last_refresh = 0.0

    def current_line() -> str:
        nonlocal counts, last_refresh
        if time.monotonic() - last_refresh > 2.0:
            last_refresh = time.monotonic()
            try:
                counts = task_counts(deadline, state.farm_id, state.queue_id)
            except Exception:
                counts = None
        return status_line(state, supervisor.workers_alive(), counts)

    if console.is_terminal:
        with Live(current_line(), console=console, refresh_per_second=2, transient=True) as live:
            supervisor.run(on_tick=lambda: live.update(current_line()))
    else:
        supervisor.run()
    console.print("farm stopped")


@click.command("down")
@data_dir_option
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for it.")
def down_command(data_dir: Path | None, timeout: float) -> None:
    """Stop the embedded farm started with `farmhand up --detach` (workers first, then the server)."""
    from ._state import terminate_processes

    resolved = _resolve_data_dir(data_dir)
    state = read_state(resolved)
    if not farm_is_running(resolved):
        if state is not None:
            terminate_processes(state.child_pids(), resolved)
            remove_state(resolved)
            click.echo("Stopped what was left of a farm whose supervisor had died.")
        else:
            click.echo(f"No farm is running in {resolved}.")
        return
    if state is None:
        raise click.ClickException(f"a farm is starting in {resolved}; try again in a moment")
    os.kill(state.supervisor_pid, signal.SIGTERM)
    give_up = time.monotonic() + timeout
    while farm_is_running(resolved) and time.monotonic() < give_up:
        time.sleep(0.1)
    if farm_is_running(resolved):
        os.kill(state.supervisor_pid, signal.SIGKILL)
    terminate_processes([state.supervisor_pid, *state.child_pids()], resolved, grace_seconds=10)
    remove_state(resolved)
    click.echo("Farm stopped.")


@click.command("status")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the farm's state as JSON.")
def status_command(data_dir: Path | None, as_json: bool) -> None:
    """Show whether the embedded farm runs, where, and what it is doing (exit code 1 when stopped)."""
    resolved = _resolve_data_dir(data_dir)
    state = running_farm(resolved)
    if state is None or not state.ready:
        starting = farm_is_running(resolved)
        if as_json:
            click.echo(json.dumps({"running": False, "starting": starting, "data_dir": str(resolved)}))
        elif starting:
            click.echo(f"A farm is starting in {resolved}.")
        else:
            click.echo(f"No farm is running in {resolved}.")
        sys.exit(1)
    from ._state import is_our_process
    from ._status_line import admin_deadline_client, status_line, task_counts

    alive = sum(1 for pid in state.worker_pids if is_our_process(pid, resolved))
    try:
        counts = task_counts(admin_deadline_client(state), state.farm_id, state.queue_id)
    except Exception:
        counts = None
    if as_json:
        doc: dict[str, Any] = {"running": True, **asdict(state), "workers_alive": alive}
        doc["tasks"] = asdict(counts) if counts else None
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(_describe(state, alive))
    click.echo(status_line(state, alive, counts))
    click.echo(
        "A worker on another host (with this profile): farmhand worker "
        f"--farm-id {state.farm_id} --fleet-id {state.fleet_id} --profile {state.profile_name}"
    )
