"""Submission hooks: commands a bundle (or the workstation) runs before and after a submission.

`hooks.yaml|json` holds `preSubmission` and `postSubmission` lists of `{command, args, timeout, env}`.
Each hook gets the submission as JSON on stdin and `DEADLINE_*` variables; a pre-submission hook may
print JSON replacing `template`, `priority` or `parameters`. Hooks run only when the settings
`settings.allow_bundle_hooks` / `settings.allow_environment_hooks` allow them.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import DeadlineOperationError
from ._loader import read_bundle_file

__all__ = ["Hook", "HookSet", "describe_hooks", "read_hooks", "run_hooks"]

HOOKS_DIR_ENV = "DEADLINE_HOOKS_DIR"
DEFAULT_TIMEOUT_SECONDS = 60


@dataclass
class Hook:
    command: str
    args: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    env: dict[str, str] = field(default_factory=dict)

    @property
    def command_line(self) -> str:
        return " ".join([self.command, *self.args])


@dataclass
class HookSet:
    """The hooks of one directory (a bundle, or `DEADLINE_HOOKS_DIR`)."""

    location: Path
    pre_submission: list[Hook]
    post_submission: list[Hook]


def _hooks_of(document: Any, key: str, location: Path) -> list[Hook]:
    entries = document.get(key) or []
    if not isinstance(entries, list):
        raise DeadlineOperationError(f"{key} in the hooks file of {location} must be a list")
    hooks = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
            raise DeadlineOperationError(f"Each {key} hook in {location} needs a 'command' string")
        hooks.append(
            Hook(
                command=entry["command"],
                args=[str(a) for a in entry.get("args") or []],
                timeout=float(entry.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
                env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
            )
        )
    return hooks


def read_hooks(directory: Path) -> HookSet | None:
    """The hooks file of a directory, or None when it has none."""
    loaded = read_bundle_file(directory, "hooks")
    if loaded is None:
        return None
    document = loaded[2] or {}
    if not isinstance(document, dict):
        raise DeadlineOperationError(f"The hooks file in {directory} must be a mapping")
    return HookSet(
        location=directory,
        pre_submission=_hooks_of(document, "preSubmission", directory),
        post_submission=_hooks_of(document, "postSubmission", directory),
    )


def describe_hooks(hook_sets: list[HookSet]) -> str:
    """The confirmation text listing every command that would run."""
    lines = ["This job bundle contains submission hooks that will execute on your machine:", ""]
    for hook_set in hook_sets:
        for title, hooks in (
            ("Pre-submission hooks", hook_set.pre_submission),
            ("Post-submission hooks", hook_set.post_submission),
        ):
            if hooks:
                lines.append(f"  {title}:")
                lines += [f"    [{n}] {hook.command_line}" for n, hook in enumerate(hooks, start=1)]
                lines.append("")
        lines += [f"  Location: {hook_set.location}", ""]
    return "\n".join(lines)


def _environment(metadata: dict[str, Any], hook: Hook) -> dict[str, str]:
    variables = {
        "DEADLINE_FARM_ID": metadata.get("farmId"),
        "DEADLINE_QUEUE_ID": metadata.get("queueId"),
        "DEADLINE_JOB_BUNDLE_DIR": metadata.get("jobBundleDir"),
        "DEADLINE_JOB_NAME": metadata.get("jobName"),
        "DEADLINE_PRIORITY": metadata.get("priority"),
        "DEADLINE_JOB_ID": metadata.get("jobId"),
    }
    return {
        **os.environ,
        **hook.env,
        **{name: str(value) for name, value in variables.items() if value is not None},
    }


def run_hooks(
    phase: str,
    hooks: list[tuple[Path, Hook]],
    metadata: dict[str, Any],
    print_function: Callable[..., Any],
) -> dict[str, Any]:
    """Run hooks in order; returns what pre-submission hooks printed, merged.

    `phase` is "pre" or "post". A failing pre-submission hook stops the submission; a failing
    post-submission hook is reported and the job stays submitted.
    """
    title = "Pre-submission" if phase == "pre" else "Post-submission"
    changes: dict[str, Any] = {}
    for number, (location, hook) in enumerate(hooks, start=1):
        print_function(f"Running {title.lower()} hook [{number}]: {hook.command_line}")
        stdin = json.dumps(
            {**metadata, **({"submissionPayload": changes} if phase == "pre" else {})}, indent=2
        )
        try:
            finished = subprocess.run(
                [hook.command, *hook.args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=hook.timeout,
                cwd=location,
                env=_environment(metadata, hook),
                check=False,
            )
        except subprocess.TimeoutExpired:
            failure = f"{title} hook [{number}] timed out after {hook.timeout:g}s: {hook.command_line}"
        except OSError as error:
            failure = f"{title} hook [{number}] could not start ({error}): {hook.command_line}"
        else:
            if finished.returncode == 0:
                if phase == "pre" and finished.stdout.strip():
                    try:
                        output = json.loads(finished.stdout)
                    except json.JSONDecodeError as error:
                        raise DeadlineOperationError(
                            f"{title} hook [{number}] produced invalid JSON: {error}"
                        ) from error
                    if not isinstance(output, dict):
                        raise DeadlineOperationError(f"{title} hook [{number}] must print a JSON object")
                    changes.update(output)
                continue
            detail = finished.stderr.strip()
            failure = (
                f"{title} hook [{number}] failed with exit code {finished.returncode}: {hook.command_line}"
                + (f"\n{detail}" if detail else "")
            )
        if phase == "pre":
            raise DeadlineOperationError(failure)
        print_function(failure)
    return changes
