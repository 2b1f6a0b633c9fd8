"""`farmhand job list/get/cancel/requeue-tasks/wait/logs/why`."""

from __future__ import annotations

import time
from collections.abc import Callable
from configparser import ConfigParser
from datetime import UTC, datetime
from typing import Any

import click

from ...statuses import TERMINAL_TASK_RUN_STATUSES
from ._common import (
    every_item,
    farm_option,
    job_argument,
    load_config,
    profile_option,
    queue_option,
    region_option,
    require_farm_id,
    require_job_id,
    require_queue_id,
    yes_option,
)
from ._errors import CliUsageError
from ._output import (
    emit_json,
    json_option,
    jsonable,
    print_record,
    print_table,
)
from ._waiting import describe_counts, wait_and_report

__all__ = ["job_group"]


@click.group("job")
def job_group() -> None:
    """Follow, wait for, explain, cancel and requeue jobs."""


def _target(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_argument_value: str | None = None,
    job_option_value: str | None = None,
    *,
    needs_job: bool = True,
    yes: bool = False,
) -> tuple[ConfigParser, str, str, str]:
    """Config plus the farm, queue and (when needed) job this command acts on."""
    config = load_config(profile=profile, farm_id=farm_id, region=region, queue_id=queue_id, yes=yes)
    farm = require_farm_id(config)
    queue = require_queue_id(config)
    job = require_job_id(config, job_argument_value, job_option_value) if needs_job else ""
    return config, farm, queue, job


def _deadline(config: ConfigParser) -> Any:
    from .. import api

    return api.get_boto3_client("deadline", config=config)


@job_group.command("list")
@profile_option
@farm_option
@region_option
@queue_option
@click.option("--page-size", type=click.IntRange(1, 100), default=25, show_default=True)
@click.option("--item-offset", type=click.IntRange(0, 10000), default=0, show_default=True)
@click.option("--status", "task_run_status", help="Only jobs in this task-run status (e.g. FAILED).")
@json_option
def job_list(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    page_size: int,
    item_offset: int,
    task_run_status: str | None,
    as_json: bool,
) -> None:
    """The newest jobs of the queue."""
    config, farm, queue, _ = _target(profile, farm_id, region, queue_id, needs_job=False)
    request: dict[str, Any] = {
        "farmId": farm,
        "queueIds": [queue],
        "itemOffset": item_offset,
        "pageSize": page_size,
        "sortExpressions": [{"fieldSort": {"name": "CREATED_AT", "sortOrder": "DESCENDING"}}],
    }
    if task_run_status:
        request["filterExpressions"] = {
            "filters": [
                {
                    "stringFilter": {
                        "name": "TASK_RUN_STATUS",
                        "operator": "EQUAL",
                        "value": task_run_status.upper(),
                    }
                }
            ],
            "operator": "AND",
        }
    deadline = _deadline(config)
    response = deadline.search_jobs(**request)
    jobs = response.get("jobs", [])
    if not jobs:
        # SearchJobs finds nothing in a queue that does not exist either: that is an error, not "No jobs".
        deadline.get_queue(farmId=farm, queueId=queue)
    if as_json:
        emit_json(
            {
                "jobs": jobs,
                "totalResults": response.get("totalResults", 0),
                "nextItemOffset": response.get("nextItemOffset"),
            }
        )
        return
    rows = [{**job, "tasks": describe_counts(job.get("taskRunStatusCounts") or {})} for job in jobs]
    print_table(
        rows,
        [
            ("name", "Name"),
            ("jobId", "Job ID"),
            ("taskRunStatus", "Status"),
            ("tasks", "Tasks"),
            ("priority", "Priority"),
            ("createdAt", "Created"),
        ],
        status_columns=("taskRunStatus",),
        empty_message=f"No jobs in {queue}.",
    )
    if response.get("nextItemOffset") is not None:
        click.echo(
            f"Showing {len(jobs)} of {response.get('totalResults')}; next page: --item-offset "
            f"{response['nextItemOffset']}",
            err=True,
        )


@job_group.command("get")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@json_option
def job_get(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    as_json: bool,
) -> None:
    """Details of a job."""
    from .. import api

    config, farm, queue, job_id = _target(profile, farm_id, region, queue_id, job_id, job_id_option)
    job = api.get_job(farm, queue, job_id, config=config)
    if as_json:
        emit_json(job)
    else:
        print_record(job)


_MARK_AS = ("CANCELED", "FAILED", "SUCCEEDED", "SUSPENDED")


@job_group.command("cancel")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@click.option(
    "--mark-as",
    type=click.Choice(_MARK_AS, case_sensitive=False),
    default="CANCELED",
    show_default=True,
    help="The status to give every task that has not finished.",
)
@yes_option
def job_cancel(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    mark_as: str,
    yes: bool,
) -> None:
    """Stop a job: its unfinished tasks become CANCELED (or --mark-as)."""
    config, farm, queue, job_id = _target(profile, farm_id, region, queue_id, job_id, job_id_option, yes=yes)
    deadline = _deadline(config)
    job = deadline.get_job(farmId=farm, queueId=queue, jobId=job_id)
    status = job.get("taskRunStatus")
    mark_as = mark_as.upper()
    if not yes:
        click.confirm(
            f"Mark unfinished tasks of job {job.get('name')} ({job_id}, {status}) as {mark_as}?",
            default=True,
            abort=True,
            err=True,
        )
    deadline.update_job(farmId=farm, queueId=queue, jobId=job_id, targetTaskRunStatus=mark_as)
    click.echo(f"Job {job_id}: unfinished tasks marked {mark_as}.")


_REQUEUE_FROM = tuple(str(status) for status in TERMINAL_TASK_RUN_STATUSES)


@job_group.command("requeue-tasks")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@click.option(
    "--run-status",
    "run_statuses",
    type=click.Choice(_REQUEUE_FROM, case_sensitive=False),
    multiple=True,
    help="Requeue tasks in this status (repeatable; default SUSPENDED, CANCELED and FAILED).",
)
@yes_option
@json_option
def job_requeue_tasks(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    run_statuses: tuple[str, ...],
    yes: bool,
    as_json: bool,
) -> None:
    """Run tasks again: the tasks in the chosen statuses go back to PENDING."""
    config, farm, queue, job_id = _target(profile, farm_id, region, queue_id, job_id, job_id_option, yes=yes)
    statuses = {status.upper() for status in run_statuses} or {"SUSPENDED", "CANCELED", "FAILED"}
    deadline = _deadline(config)
    to_requeue: list[tuple[str, str]] = []
    for step in every_item(deadline, "list_steps", "steps", farmId=farm, queueId=queue, jobId=job_id):
        counts = step.get("taskRunStatusCounts") or {}
        if not any(counts.get(status) for status in statuses):
            continue
        tasks = every_item(
            deadline, "list_tasks", "tasks", farmId=farm, queueId=queue, jobId=job_id, stepId=step["stepId"]
        )
        to_requeue += [(step["stepId"], t["taskId"]) for t in tasks if t.get("runStatus") in statuses]
    if to_requeue and not yes:
        click.confirm(
            f"Requeue {len(to_requeue)} task(s) of job {job_id} ({', '.join(sorted(statuses))})?",
            default=True,
            abort=True,
            err=True,
        )
    for step_id, task_id in to_requeue:
        deadline.update_task(
            farmId=farm,
            queueId=queue,
            jobId=job_id,
            stepId=step_id,
            taskId=task_id,
            targetRunStatus="PENDING",
        )
    if as_json:
        emit_json({"jobId": job_id, "requeued": [{"stepId": s, "taskId": t} for s, t in to_requeue]})
    else:
        click.echo(f"Requeued {len(to_requeue)} task(s) of job {job_id}.")


@job_group.command("wait")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@click.option(
    "--max-poll-interval",
    type=click.FloatRange(0.1),
    default=120.0,
    show_default=True,
    help="Longest pause between polls, in seconds (polling starts at 0.5 s and doubles).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Give up after this many seconds (0: wait forever).",
)
@json_option
def job_wait(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    max_poll_interval: float,
    timeout: float,
    as_json: bool,
) -> None:
    """Wait until a job finishes, then print how it ended and its failed tasks.

    \b
    Exit codes:
      0  the job succeeded
      1  timed out (--timeout)
      2  the job failed
      3  the job was canceled
      4  the job was suspended or archived
      5  the job is not compatible with any fleet
    """
    config, farm, queue, job_id = _target(profile, farm_id, region, queue_id, job_id, job_id_option)
    code = wait_and_report(
        config, farm, queue, job_id, timeout=timeout, max_poll_interval=max_poll_interval, as_json=as_json
    )
    raise click.exceptions.Exit(code)


def _parse_time(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise CliUsageError(f"{option} {text!r} is not an ISO-8601 time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _format_time(moment: datetime, timestamp_format: str) -> str:
    if timestamp_format == "local":
        return moment.astimezone().isoformat(timespec="milliseconds")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _print_events(events: list[Any], timestamp_format: str, as_json: bool, prefix: str = "") -> None:
    import json

    for event in events:
        if as_json:
            click.echo(json.dumps({**jsonable(event), **({"sessionId": prefix} if prefix else {})}))
        else:
            click.echo(f"{_format_time(event.timestamp, timestamp_format)} {event.message}")


@job_group.command("logs")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@click.option("--session-id", help="The session to read (default: the job's latest session).")
@click.option("--session-action-id", help="Read the session this session action ran in.")
@click.option(
    "--limit",
    type=click.IntRange(1, 10000),
    default=100,
    show_default=True,
    help="How many of the newest log lines to print.",
)
@click.option("--start-time", help="Only lines at or after this ISO-8601 time.")
@click.option("--end-time", help="Only lines before this ISO-8601 time.")
@click.option("--next-token", help="Continue from a previous call's next token.")
@click.option("--show-next-token", is_flag=True, help="Print the token that continues from here (stderr).")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new lines until the job finishes (every session of the job, or --session-id).",
)
@click.option("--timestamp-format", type=click.Choice(["utc", "local"]), default="utc", show_default=True)
@json_option
def job_logs(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    session_id: str | None,
    session_action_id: str | None,
    limit: int,
    start_time: str | None,
    end_time: str | None,
    next_token: str | None,
    show_next_token: bool,
    follow: bool,
    timestamp_format: str,
    as_json: bool,
) -> None:
    """Print the session logs of a job (one JSON object per line with --json)."""
    from .. import api
    from ._why import session_id_of

    if session_action_id:
        derived = session_id_of(session_action_id)
        if derived is None or (session_id and session_id != derived):
            raise CliUsageError(f"--session-action-id {session_action_id!r} is not an action of a session")
        session_id = derived
    needs_job = session_id is None or follow
    config, farm, queue, job_id = _target(
        profile, farm_id, region, queue_id, job_id, job_id_option, needs_job=needs_job
    )
    start, end = _parse_time(start_time, "--start-time"), _parse_time(end_time, "--end-time")
    if follow:
        from ._follow import follow_job_logs

        follow_job_logs(
            config,
            farm,
            queue,
            job_id,
            session_id=session_id,
            start_time=start,
            print_events=lambda events, sid: _print_events(
                events, timestamp_format, as_json, sid if as_json else ""
            ),
            show_headers=not as_json,
        )
        return

    def read() -> Any:
        return api.get_session_logs(
            farm,
            queue,
            session_id=session_id,
            job_id=job_id or None,
            limit=limit,
            start_time=start,
            end_time=end,
            next_token=next_token,
            config=config,
        )

    result = read()
    if not result.events and job_id and not next_token:
        result = _await_shipped_lines(config, farm, queue, job_id, result, read)
    _print_events(result.events, timestamp_format, as_json)
    if result.next_token and show_next_token:
        click.echo(f"(session {result.log_stream}; next token: {result.next_token})", err=True)


def _await_shipped_lines(
    config: ConfigParser, farm: str, queue: str, job_id: str, result: Any, read: Callable[[], Any]
) -> Any:
    """An empty log of a session that is running or just ended may only be waiting for the worker to
    ship it: look again for a few seconds (`logs` right after `bundle submit --wait` shows the lines)."""
    from ._follow import SETTLE_SECONDS

    session = _deadline(config).get_session(
        farmId=farm, queueId=queue, jobId=job_id, sessionId=result.log_stream
    )
    ended = session.get("endedAt")
    if ended is not None and (datetime.now(UTC) - ended).total_seconds() >= SETTLE_SECONDS:
        return result
    give_up = time.monotonic() + SETTLE_SECONDS
    while not result.events and time.monotonic() < give_up:
        time.sleep(0.5)
        result = read()
    return result


@job_group.command("why")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@click.option(
    "--lines",
    "-n",
    type=click.IntRange(1, 10000),
    default=20,
    show_default=True,
    help="Log lines to show per failed task.",
)
@click.option(
    "--max-tasks",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Explain at most this many failed tasks.",
)
@json_option
def job_why(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    lines: int,
    max_tasks: int,
    as_json: bool,
) -> None:
    """Why a job is where it is: what each unfinished step waits for, and each failed task with its
    exit code, worker and the tail of its log."""
    from ._why import diagnose_job, print_diagnosis

    config, farm, queue, job_id = _target(profile, farm_id, region, queue_id, job_id, job_id_option)
    diagnosis = diagnose_job(config, farm, queue, job_id, lines=lines, max_tasks=max_tasks)
    job = diagnosis.job
    if as_json:
        emit_json(
            {
                "jobId": job_id,
                "name": job.get("name"),
                "taskRunStatus": job.get("taskRunStatus"),
                "taskRunStatusCounts": job.get("taskRunStatusCounts"),
                "failedTasks": [
                    {
                        **{k: v for k, v in jsonable(report).items() if k != "log_lines"},
                        "logLines": [{"timestamp": t.isoformat(), "message": m} for t, m in report.log_lines],
                    }
                    for report in diagnosis.failed_tasks
                ],
                "moreFailedTasks": diagnosis.more_failed_tasks,
                "reasons": (diagnosis.explanation or {}).get("reasons", []),
                "steps": (diagnosis.explanation or {}).get("steps", []),
                "explanationNote": diagnosis.explanation_note,
            }
        )
        return
    print_diagnosis(diagnosis, job_id)


@job_group.command("open")
@profile_option
@farm_option
@region_option
@queue_option
@job_argument
@click.option("--step-id", help="Open this step of the job (its tasks).")
@click.option("--task-id", help="Open this task (needs --step-id).")
@click.option("--print-only", is_flag=True, help="Print the address without opening a browser.")
@json_option
def job_open(
    profile: str | None,
    farm_id: str | None,
    region: str | None,
    queue_id: str | None,
    job_id: str | None,
    job_id_option: str | None,
    step_id: str | None,
    task_id: str | None,
    print_only: bool,
    as_json: bool,
) -> None:
    """Open the job in a browser: the farm's web monitor for a farmhand farm, the Deadline Cloud monitor
    for Deadline Cloud monitor profiles."""
    from ..api._monitor_url import monitor_url
    from ..sign_in import open_in_browser

    if task_id and not step_id:
        raise CliUsageError("--task-id needs --step-id")
    config, farm, queue, job_id = _target(profile, farm_id, region, queue_id, job_id, job_id_option)
    url = monitor_url(config, farm, queue, job_id, step_id, task_id)
    if url is None:
        raise CliUsageError(
            "This profile has no monitor to open: it is neither a farmhand farm's nor a Deadline Cloud "
            "monitor profile"
        )
    if as_json:
        emit_json({"jobId": job_id, "url": url})
    else:
        click.echo(url)
    if not print_only:
        open_in_browser(url)


def _add_transfer_commands() -> None:
    """download-output / download-input live in their own module (they pull in the transfer code)."""
    from ._job_transfers import download_input_command, download_output_command

    job_group.add_command(download_output_command)
    job_group.add_command(download_input_command)


_add_transfer_commands()
