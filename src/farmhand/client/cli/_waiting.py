"""Waiting for a job with a live progress bar, and the exit code that tells a script how it ended.

Used by `farmhand job wait` and `farmhand bundle submit --wait`. The bar goes to stderr (only when it
is a terminal; otherwise one line per status change), the outcome to stdout.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from configparser import ConfigParser
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from ...statuses import BLOCKING_TASK_RUN_STATUSES, HELD_TASK_RUN_STATUSES, TERMINAL_TASK_RUN_STATUSES
from ._output import emit_json, err_console, jsonable, out_console, styled_status, task_parameters_text

__all__ = ["EXIT_CODES", "TIMEOUT_EXIT_CODE", "describe_counts", "wait_and_report"]

EXIT_CODES = {"SUCCEEDED": 0, "FAILED": 2, "CANCELED": 3, "SUSPENDED": 4, "ARCHIVED": 4, "NOT_COMPATIBLE": 5}
TIMEOUT_EXIT_CODE = 1


class _JobArchived(Exception):
    """The job is archived: it will never change again, and only a success counts as one (exit 0)."""


def describe_counts(counts: dict[str, int]) -> str:
    """`3/10 succeeded, 1 failed, 2 running` from a `taskRunStatusCounts` dict."""
    total = sum(counts.values())
    parts = [f"{counts.get('SUCCEEDED', 0)}/{total} succeeded"]
    for status in BLOCKING_TASK_RUN_STATUSES:
        if counts.get(status):
            parts.append(f"{counts[status]} {status.lower().replace('_', ' ')}")
    running = sum(counts.get(status, 0) for status in HELD_TASK_RUN_STATUSES)
    if running:
        parts.append(f"{running} running")
    return ", ".join(parts)


class _ProgressDisplay:
    """A rich progress bar on a terminal; plain status-change lines elsewhere."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.console = err_console()
        self.progress: Any = None
        self.task_id: Any = None
        self.last_line = ""
        self.lifecycle = ""
        self.lifecycle_message = ""

    def __enter__(self) -> _ProgressDisplay:
        if self.console.is_terminal:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task_id = self.progress.add_task(self.job_id, total=None, counts="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, job: dict[str, Any], elapsed: float, timeout: float) -> None:
        self.lifecycle = str(job.get("lifecycleStatus") or "")
        self.lifecycle_message = str(job.get("lifecycleStatusMessage") or "")
        counts = {k: int(v) for k, v in (job.get("taskRunStatusCounts") or {}).items()}
        status = str(job.get("taskRunStatus") or "")
        name = str(job.get("name") or self.job_id)
        total = sum(counts.values())
        done = sum(counts.get(s, 0) for s in TERMINAL_TASK_RUN_STATUSES)
        summary = describe_counts(counts) if total else "no tasks yet"
        if self.progress is not None:
            self.progress.update(
                self.task_id,
                description=f"{name} {styled_status(status)}",
                total=total or None,
                completed=done,
                counts=summary,
            )
        else:
            line = f"{name} ({self.job_id}): {status} - {summary}"
            if line != self.last_line:
                click.echo(line, err=True)
                self.last_line = line
        if self.lifecycle == "ARCHIVED" and status != "SUCCEEDED":
            raise _JobArchived()


@contextmanager
def _interrupt_ends_the_wait() -> Iterator[None]:
    """Ctrl-C while waiting ends the process at once, with the interrupt's exit code.

    A wait holds nothing to clean up, so the handler says so and exits without unwinding: nothing the
    interrupt lands in (an HTTP call, a lock taken by the connection pool) can hold the exit up.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield  # SIGINT ignored (as a shell does for background jobs) or handled by the embedding program
        return
    from . import _INTERRUPTED_EXIT_CODE

    def stop(_signum: int, _frame: FrameType | None) -> None:
        sys.stdout.flush()
        # Show the cursor again, in case a progress bar hid it.
        sys.stderr.write(("\x1b[?25h" if sys.stderr.isatty() else "") + "\nInterrupted.\n")
        sys.stderr.flush()
        os._exit(_INTERRUPTED_EXIT_CODE)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_and_report(
    config: ConfigParser,
    farm_id: str,
    queue_id: str,
    job_id: str,
    *,
    timeout: float,
    max_poll_interval: float,
    as_json: bool,
) -> int:
    """Wait for the job, print how it ended (and its failed tasks); the `job wait` exit code."""
    from .. import api

    display = _ProgressDisplay(job_id)
    try:
        with _interrupt_ends_the_wait(), display:
            result = api.wait_for_job_completion(
                farm_id,
                queue_id,
                job_id,
                max_poll_interval=max_poll_interval,
                timeout=timeout,
                config=config,
                job_callback=display.update,
            )
        status, failed_tasks, elapsed = result.status, result.failed_tasks, result.elapsed_time
    except _JobArchived:
        status, failed_tasks, elapsed = "ARCHIVED", [], 0.0
    except api.DeadlineOperationTimedOut as error:
        if as_json:
            emit_json({"jobId": job_id, "status": "TIMEOUT", "message": str(error)})
        click.echo(f"Error: {error}", err=True)
        return TIMEOUT_EXIT_CODE
    exit_code = EXIT_CODES.get(status, 2)
    # A job whose creation failed has no failed task to show: the reason is its lifecycle message.
    creation_failure = display.lifecycle_message if display.lifecycle == "CREATE_FAILED" else ""
    if as_json:
        outcome: dict[str, Any] = {
            "jobId": job_id,
            "status": status,
            "elapsedTime": round(elapsed, 3),
            "failedTasks": jsonable(failed_tasks),
            "exitCode": exit_code,
        }
        if creation_failure:
            outcome |= {"lifecycleStatus": "CREATE_FAILED", "message": creation_failure}
        emit_json(outcome)
        return exit_code
    console = out_console()
    console.print(f"Job {job_id} {styled_status(status)} after {elapsed:.1f} s")
    if creation_failure:
        console.print(f"Its creation failed: {creation_failure}", markup=False)
    if failed_tasks:
        console.print(f"{len(failed_tasks)} failed task(s):")
        for task in failed_tasks:
            parameters = task_parameters_text(task.parameters)
            session = f"  session {task.session_id}" if task.session_id else ""
            console.print(
                f"  {task.step_name} / {task.task_id}{' ' + parameters if parameters else ''}{session}"
            )
    if status == "FAILED":
        console.print(f"See why: farmhand job why {job_id}")
    return exit_code
