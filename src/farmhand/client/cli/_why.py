"""`farmhand job why`: from a job that is not done to the cause in one hop.

The farm says why each unfinished step is where it is (ExplainJob of `farmhand-scheduling`: the
upstream steps it waits for, why no worker takes its READY tasks, what no fleet meets, who suspended
or canceled it). For every failed task: which step and parameters, how many of its runs failed, the
exit code and message of the session action that failed last, the worker it ran on, and the last
lines that action wrote to its log. Against AWS Deadline Cloud (which has no ExplainJob) only the
failed tasks are shown.
"""

from __future__ import annotations

from configparser import ConfigParser
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._output import out_console, styled_status, task_parameters_text
from ._waiting import describe_counts

__all__ = ["FailedTaskReport", "JobDiagnosis", "diagnose_job", "print_diagnosis", "session_id_of"]

# Lines are stamped when the worker reads them, after the action started: no margin before the
# start (an earlier task of the same session must not show up), one second after the end.
_LOG_WINDOW_END_MARGIN = timedelta(seconds=1)
# Within that second the session may go on to its next action (its cleanup, say), whose lines open
# with openjd's banner: a rule of '=' and a '--------- <what>' line. The tail stops before it.
_BANNER = "--------- "
_BANNER_ROOM = 200  # lines read beyond the tail wanted, for those the banner cuts off


@dataclass
class FailedTaskReport:
    """One failed task and the evidence of why it failed."""

    step_id: str
    step_name: str
    task_id: str
    parameters: dict[str, Any]
    failure_retry_count: int = 0
    failed_runs: int = 0  # session actions of the task that ended FAILED
    session_id: str | None = None
    session_action_id: str | None = None
    worker_id: str | None = None
    exit_code: int | None = None
    message: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    log_lines: list[tuple[datetime, str]] = field(default_factory=list)
    log_note: str | None = None


@dataclass
class JobDiagnosis:
    job: dict[str, Any]
    failed_tasks: list[FailedTaskReport]
    more_failed_tasks: int = 0
    # ExplainJob's answer (`reasons` of the job, `steps` with theirs); None when the farm has none.
    explanation: dict[str, Any] | None = None
    explanation_note: str | None = None


def session_id_of(session_action_id: str | None) -> str | None:
    """`sessionaction-<x>-<n>` → `session-<x>`."""
    prefix = "sessionaction-"
    if not session_action_id or not session_action_id.startswith(prefix):
        return None
    body = session_action_id[len(prefix) :]
    return "session-" + body.rsplit("-", 1)[0] if "-" in body else None


def _failed_tasks(config: ConfigParser, farm_id: str, queue_id: str, job_id: str) -> list[FailedTaskReport]:
    from .. import api

    reports: list[FailedTaskReport] = []
    for step in api.list_steps(farm_id, queue_id, job_id, config=config)["steps"]:
        if not (step.get("taskRunStatusCounts") or {}).get("FAILED"):
            continue
        for task in api.list_tasks(farm_id, queue_id, job_id, step["stepId"], config=config)["tasks"]:
            if task.get("runStatus") != "FAILED":
                continue
            action_id = task.get("latestSessionActionId")
            reports.append(
                FailedTaskReport(
                    step_id=step["stepId"],
                    step_name=str(step.get("name", "")),
                    task_id=task["taskId"],
                    parameters=dict(task.get("parameters") or {}),
                    failure_retry_count=int(task.get("failureRetryCount") or 0),
                    session_action_id=action_id,
                    session_id=session_id_of(action_id),
                    started_at=task.get("startedAt"),
                    ended_at=task.get("endedAt"),
                )
            )
    return reports


def _add_session_action(
    deadline: Any, farm_id: str, queue_id: str, job_id: str, report: FailedTaskReport
) -> None:
    """Exit code, message and timing of the action that failed; worker of its session; failed runs."""
    from botocore.exceptions import ClientError

    try:
        pages = deadline.get_paginator("list_session_actions").paginate(
            farmId=farm_id, queueId=queue_id, jobId=job_id, taskId=report.task_id
        )
        report.failed_runs = sum(
            1 for page in pages for action in page["sessionActions"] if action.get("status") == "FAILED"
        )
    except ClientError:
        report.failed_runs = 0
    if report.session_action_id:
        try:
            action = deadline.get_session_action(
                farmId=farm_id, queueId=queue_id, jobId=job_id, sessionActionId=report.session_action_id
            )
            report.exit_code = action.get("processExitCode")
            report.message = action.get("progressMessage") or None
            report.started_at = action.get("startedAt") or report.started_at
            report.ended_at = action.get("endedAt") or report.ended_at
        except ClientError as error:
            report.log_note = f"session action not readable: {error.response['Error'].get('Message', error)}"
    if report.session_id:
        try:
            session = deadline.get_session(
                farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=report.session_id
            )
            report.worker_id = session.get("workerId")
        except ClientError:
            pass


def _before_next_action(events: list[Any], ended_at: datetime | None) -> list[Any]:
    """The events up to the banner of the session's next action: the first banner stamped after the
    failed action ended (its own banner, and the session's opening lines, come before)."""
    if ended_at is None:
        return events
    for index, event in enumerate(events):
        if event.message.startswith(_BANNER) and event.timestamp > ended_at:
            start = index
            while start > 0 and _rule_or_blank(events[start - 1].message):
                start -= 1
            return events[:start]
    return events


def _rule_or_blank(message: str) -> bool:
    text = message.strip()
    return not text or set(text) == {"="}


def _add_log_tail(
    config: ConfigParser, farm_id: str, queue_id: str, report: FailedTaskReport, lines: int
) -> None:
    """The last `lines` log lines of the failed action (its time window), else of its session."""
    from .. import api

    if not report.session_id:
        report.log_note = report.log_note or "the task never ran in a session, so it has no log"
        return
    events: list[Any] = []
    if report.started_at is not None:
        end = (report.ended_at or datetime.now(report.started_at.tzinfo)) + _LOG_WINDOW_END_MARGIN
        events = _before_next_action(
            api.get_session_logs(
                farm_id,
                queue_id,
                session_id=report.session_id,
                limit=lines + _BANNER_ROOM,
                start_time=report.started_at,
                end_time=end,
                config=config,
            ).events,
            report.ended_at,
        )
    if not events:
        events = api.get_session_logs(
            farm_id, queue_id, session_id=report.session_id, limit=lines, config=config
        ).events
    if not events:
        report.log_note = report.log_note or f"the session {report.session_id} has no log events"
    report.log_lines = [(event.timestamp, event.message) for event in events[-lines:]]


def diagnose_job(
    config: ConfigParser, farm_id: str, queue_id: str, job_id: str, *, lines: int, max_tasks: int
) -> JobDiagnosis:
    """The job and, for at most `max_tasks` of its failed tasks, the evidence of what went wrong."""
    from .. import api

    deadline = api.get_boto3_client("deadline", config=config)
    job = api.get_job(farm_id, queue_id, job_id, config=config)
    explanation, note = _explanation(config, deadline, farm_id, queue_id, job_id)
    failed = _failed_tasks(config, farm_id, queue_id, job_id)
    shown, hidden = failed[:max_tasks], max(0, len(failed) - max_tasks)
    for report in shown:
        _add_session_action(deadline, farm_id, queue_id, job_id, report)
        _add_log_tail(config, farm_id, queue_id, report, lines)
    return JobDiagnosis(
        job=job,
        failed_tasks=shown,
        more_failed_tasks=hidden,
        explanation=explanation,
        explanation_note=note,
    )


def _explanation(
    config: ConfigParser, deadline: Any, farm_id: str, queue_id: str, job_id: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The farm's ExplainJob answer, or None and why there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..._models import SCHEDULING_SERVICE, add_models_to
    from .. import api

    endpoint = str(deadline.meta.endpoint_url or "")
    if ".amazonaws.com" in endpoint:
        return None, "AWS Deadline Cloud does not explain waiting work; failed tasks only"
    session = api.get_boto3_session(config=config)
    add_models_to(session._session)
    scheduling = session.client(  # type: ignore[call-overload]
        SCHEDULING_SERVICE,
        endpoint_url=endpoint,
        region_name=deadline.meta.region_name,
        config=deadline.meta.config,
    )
    try:
        answer = scheduling.explain_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
    except ClientError as error:
        return None, f"the farm did not explain the job: {error.response['Error'].get('Message', error)}"
    except BotoCoreError as error:
        return None, f"the farm did not explain the job: {error}"
    answer.pop("ResponseMetadata", None)
    return dict(answer), None


def print_diagnosis(diagnosis: JobDiagnosis, job_id: str) -> None:
    """The diagnosis for people: one block per failed task, its facts, then its log tail."""
    from rich.markup import escape

    console = out_console()
    job = diagnosis.job
    counts = job.get("taskRunStatusCounts") or {}
    name = escape(str(job.get("name")))
    status = styled_status(job.get("taskRunStatus"))
    console.print(f"Job [bold]{name}[/bold] ({job_id}) is {status}: {describe_counts(counts)}")
    if job.get("lifecycleStatusMessage") and job.get("lifecycleStatus") not in (None, "CREATE_COMPLETE"):
        console.print(
            f"Lifecycle: {job.get('lifecycleStatus')}: {escape(str(job['lifecycleStatusMessage']))}"
        )
    explanation = diagnosis.explanation or {}
    for reason in explanation.get("reasons") or []:
        console.print(f"[bold]{escape(str(reason['message']))}[/bold]")
    for step in explanation.get("steps") or []:
        counts_text = describe_counts(step.get("taskRunStatusCounts") or {})
        step_status = styled_status(step.get("taskRunStatus"))
        console.print(f"Step [bold]{escape(str(step['name']))}[/bold] is {step_status}: {counts_text}")
        for reason in step.get("reasons") or []:
            if reason["code"] == "FAILED":
                continue  # the failed tasks follow, with their evidence
            console.print(f"  {styled_status(reason['status'])}: {escape(str(reason['message']))}")
    if diagnosis.explanation_note:
        console.print(f"({escape(diagnosis.explanation_note)})")
    if not diagnosis.failed_tasks:
        if diagnosis.explanation is None or job.get("taskRunStatus") == "SUCCEEDED":
            console.print("No task of this job has failed.")
        return
    total = len(diagnosis.failed_tasks) + diagnosis.more_failed_tasks
    console.print(f"{total} failed task(s):")
    for report in diagnosis.failed_tasks:
        parameters = task_parameters_text(report.parameters)
        title = f"{report.step_name} / {report.task_id}" + (f"  {parameters}" if parameters else "")
        console.print(f"[bold red]✗[/bold red] [bold]{escape(title)}[/bold]")
        failures = report.failed_runs
        facts = [f"failed {failures} time{'' if failures == 1 else 's'}" if failures else "failed"]
        if report.exit_code is not None:
            facts.append(f"exit code {report.exit_code}")
        if report.worker_id:
            facts.append(f"worker {report.worker_id}")
        if report.session_action_id:
            facts.append(f"{report.session_action_id}")
        console.print("  " + " · ".join(facts))
        if report.message:
            console.print(f"  [red]{escape(report.message)}[/red]")
        if report.log_lines:
            console.print(f"  last {len(report.log_lines)} log line(s) of {report.session_id}:")
            for moment, message in report.log_lines:
                stamp = moment.astimezone(UTC).strftime("%H:%M:%SZ")
                console.print(f"  [dim]{stamp}[/dim] {escape(message)}")
        elif report.log_note:
            console.print(f"  ({escape(report.log_note)})")
    if diagnosis.more_failed_tasks:
        console.print(f"... and {diagnosis.more_failed_tasks} more failed task(s) (--max-tasks to see them).")
