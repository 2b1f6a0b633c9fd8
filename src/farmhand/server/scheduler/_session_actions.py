"""The actions of a session (its opening, task runs and closing), in the order of spec §5.6.

A session serves one step of one job, as the service's sessions do (the AWS tools rely on it: `deadline
job trace-schedule` reads each session as one step's). It opens with `syncInputJobAttachments{}`
(jobs with attachments), enters the queue and job environments, adds `syncInputJobAttachments{stepId}`
(a step with dependencies in a job with attachments) and enters the step's environments; each task
is one `taskRun`. Ending exits everything still entered, in reverse order of entry. Definitions are the
API's one-key unions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ActionDefinition = dict[str, dict[str, Any]]  # one session action, as the API's one-key union


@dataclass(frozen=True)
class SessionStep:
    """The step a session serves, as its opening actions need it."""

    step_id: str
    environment_ids: Sequence[str]  # the step's environments, template order
    has_dependencies: bool


def env_enter(environment_id: str) -> ActionDefinition:
    return {"envEnter": {"environmentId": environment_id}}


def env_exit(environment_id: str) -> ActionDefinition:
    return {"envExit": {"environmentId": environment_id}}


def task_run(step_id: str, task_id: str, parameters: Mapping[str, Any] | None) -> ActionDefinition:
    return {"taskRun": {"stepId": step_id, "taskId": task_id, "parameters": dict(parameters or {})}}


def opening_actions(
    job_environment_ids: Sequence[str], step: SessionStep, *, has_attachments: bool
) -> list[ActionDefinition]:
    """A new session for `step`: the job-level input sync first (when the job has attachments), the
    job's environments (queue environments first, as the job stores them), the step's input sync (a
    step with dependencies), then the step's environments."""
    actions: list[ActionDefinition] = [{"syncInputJobAttachments": {}}] if has_attachments else []
    actions += [env_enter(e) for e in job_environment_ids]
    if has_attachments and step.has_dependencies:
        actions.append({"syncInputJobAttachments": {"stepId": step.step_id}})
    actions += [env_enter(e) for e in step.environment_ids]
    return actions


def closing_actions(entered_environment_ids: Sequence[str]) -> list[ActionDefinition]:
    """End of a session: exit every entered environment, last entered first."""
    return [env_exit(e) for e in reversed(entered_environment_ids)]


def kind_of(definition: Mapping[str, Any]) -> str:
    """`envEnter`, `envExit`, `taskRun` or `syncInputJobAttachments`."""
    return next(iter(definition))
