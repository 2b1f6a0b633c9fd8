"""The submitter framework of `deadline.client.api`: what a DCC integration implements to submit.

A submitter turns the live scene into `BaseSubmitterSettings`, then into an OpenJD job template,
parameter values and asset references; `get_submission_context` gathers all of them (with the
queue's parameters) in one read-only `SubmissionContext`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..config import get_setting
from ..exceptions import DeadlineOperationError
from ..job_bundle import AssetReferences
from ._queue_parameters import get_queue_parameter_definitions

__all__ = ["BaseSubmitter", "BaseSubmitterSettings", "SubmissionContext", "get_queue_parameters"]


@dataclass
class BaseSubmitterSettings:
    """Settings every DCC submitter shares (DCC submitters subclass it). An empty `frame_list` means
    the scene's own frame range."""

    job_name: str = ""
    description: str = ""
    frame_list: str = ""
    project_path: str = ""
    output_path: str = ""
    priority: int = 50
    initial_status: str = "READY"
    max_failed_tasks_count: int = 20
    max_retries_per_task: int = 5
    max_worker_count: int = -1
    override_frame_range: bool = False
    input_filenames: list[str] = field(default_factory=list)
    input_directories: list[str] = field(default_factory=list)
    output_directories: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubmissionContext:
    """Everything one submission needs, collected at one moment."""

    settings: BaseSubmitterSettings
    job_template: dict[str, Any]
    parameter_values: list[dict[str, Any]]
    asset_references: AssetReferences


def get_queue_parameters(
    farm_id: str | None = None,
    queue_id: str | None = None,
    initial_values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The queue's parameter definitions, each with a `value`: its default, or `initial_values[name]`.

    These are a submitter's inputs (definitions plus values), not CreateJob's `parameters`.
    """
    farm_id = farm_id or get_setting("defaults.farm_id")
    queue_id = queue_id or get_setting("defaults.queue_id")
    if not farm_id or not queue_id:
        raise DeadlineOperationError(
            "A farm and a queue are needed: pass farm_id and queue_id, or set defaults.farm_id and "
            "defaults.queue_id (`farmhand config set`)"
        )
    overrides = initial_values or {}
    definitions = get_queue_parameter_definitions(farmId=farm_id, queueId=queue_id)
    return [
        {**definition, "value": overrides.get(definition["name"], definition.get("default"))}
        for definition in definitions
    ]


class BaseSubmitter(ABC):
    """The interface a DCC submitter implements; `get_submission_context` builds on the rest."""

    @abstractmethod
    def get_settings(self) -> BaseSubmitterSettings:
        """Settings initialised from the live scene (project and output paths, frame range...)."""

    @abstractmethod
    def get_job_template(
        self, settings: BaseSubmitterSettings, host_requirements: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The OpenJD job template to submit."""

    @abstractmethod
    def get_parameter_values(
        self, settings: BaseSubmitterSettings, queue_parameters: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The `{"name", "value"}` parameter values to submit."""

    @abstractmethod
    def get_asset_references(self, settings: BaseSubmitterSettings) -> AssetReferences:
        """The scene's input files and directories and its output directories."""

    def get_submission_context(
        self,
        settings: BaseSubmitterSettings | None = None,
        *,
        farm_id: str | None = None,
        queue_id: str | None = None,
        initial_values: dict[str, Any] | None = None,
        host_requirements: dict[str, Any] | None = None,
        queue_parameters: list[dict[str, Any]] | None = None,
    ) -> SubmissionContext:
        """Settings (from the scene when not given), template, parameter values and assets at once."""
        settings = settings if settings is not None else self.get_settings()
        if queue_parameters is None:
            queue_parameters = get_queue_parameters(farm_id, queue_id, initial_values)
        return SubmissionContext(
            settings=settings,
            job_template=self.get_job_template(settings, host_requirements),
            parameter_values=self.get_parameter_values(settings, queue_parameters),
            asset_references=self.get_asset_references(settings),
        )
