"""Job entities (job, step, environment details) fetched with BatchGetJobEntity and cached per session.

A session reads each entity once, so a job edited mid-session is not seen half-way through it,
exactly as with the AWS worker agent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from openjd.expr import SerializedSymbolTable
from openjd.model import ParameterValue, ParameterValueType, parse_model
from openjd.model.v2023_09 import Environment, ExtensionName, StepTemplate
from openjd.sessions import PathFormat, PathMappingRule

from ..parameter_types import OPENJD_TYPE_OF_MEMBER
from ._retry import call_with_retry

SUPPORTED_SCHEMA = "jobtemplate-2023-09"
ENVIRONMENT_SCHEMAS = (SUPPORTED_SCHEMA, "environment-2023-09")
ALL_EXTENSIONS = tuple(extension.value for extension in ExtensionName)

_PARAMETER_TYPES: dict[str, ParameterValueType] = {
    member: ParameterValueType(type_name) for member, type_name in OPENJD_TYPE_OF_MEMBER.items()
}


class EntityError(Exception):
    """An entity the farm could not give, or one this worker cannot use: the action that needs it fails."""


def parameter_values(params: dict[str, dict[str, Any]] | None) -> dict[str, ParameterValue]:
    """Job or task parameters in the API's union form as openjd parameter values."""
    values: dict[str, ParameterValue] = {}
    for name, union in (params or {}).items():
        if isinstance(union, str):
            values[name] = ParameterValue(type=ParameterValueType.STRING, value=union)
            continue
        kind = next((k for k in union if k in _PARAMETER_TYPES), None)
        if kind is None:
            raise EntityError(f"parameter {name}: unknown value form {sorted(union)}")
        value = union[kind]
        if kind == "bool" and isinstance(value, str):
            value = value.lower() == "true"
        values[name] = ParameterValue(type=_PARAMETER_TYPES[kind], value=value)
    return values


def path_mapping_rules(rules: list[dict[str, str]] | None) -> list[PathMappingRule]:
    mapped: list[PathMappingRule] = []
    for rule in rules or []:
        windows = rule["sourcePathFormat"] == "windows"
        source_path = PureWindowsPath(rule["sourcePath"]) if windows else PurePosixPath(rule["sourcePath"])
        mapped.append(
            PathMappingRule(
                source_path_format=PathFormat.WINDOWS if windows else PathFormat.POSIX,
                source_path=source_path,
                destination_path=PurePosixPath(rule["destinationPath"]),
            )
        )
    return mapped


def _extensions(entity: dict[str, Any]) -> tuple[str, ...]:
    listed = entity.get("extensions")
    return ALL_EXTENSIONS if listed is None else tuple(listed)


@dataclass
class JobDetails:
    job_id: str
    log_group_name: str
    parameters: dict[str, ParameterValue]
    path_mapping_rules: list[PathMappingRule]
    attachments_bucket: str | None
    attachments_root_prefix: str | None
    queue_role_arn: str | None
    extensions: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


class JobEntities:
    """The entities of one job as one session sees them."""

    def __init__(
        self,
        client: Any,
        *,
        farm_id: str,
        fleet_id: str,
        worker_id: str,
        job_id: str,
        stop: threading.Event | None = None,
    ) -> None:
        self._client = client
        self._farm_id, self._fleet_id, self._worker_id = farm_id, fleet_id, worker_id
        self.job_id = job_id
        self._stop = stop
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._errors: dict[tuple[str, str], str] = {}
        self._job: JobDetails | None = None
        self._steps: dict[str, StepTemplate] = {}
        self._environments: dict[str, Environment] = {}

    # -- fetching --------------------------------------------------------------------------------

    @property
    def _batch_size(self) -> int:
        """How many identifiers one BatchGetJobEntity takes, read from the model as the AWS agent does."""
        shape = self._client.meta.service_model.operation_model("BatchGetJobEntity").input_shape
        return int(shape.members["identifiers"].metadata.get("max", 10))

    def prime(self, entities: list[dict[str, Any]]) -> None:
        """Entities already at hand, in BatchGetJobEntity's `entities` form: they are not fetched again."""
        for entity in entities:
            kind, body = next(iter(entity.items()))
            self._cache[(kind, _entity_id(kind, body))] = body

    def prefetch(self, identifiers: list[dict[str, Any]]) -> None:
        """Fetch every entity not cached yet, in batches as large as the model allows."""
        wanted = [i for i in identifiers if _key(i) not in self._cache and _key(i) not in self._errors]
        wanted = list({_key(i): i for i in wanted}.values())
        if not wanted:
            return
        for start in range(0, len(wanted), self._batch_size):
            batch = wanted[start : start + self._batch_size]
            answer = call_with_retry(
                "BatchGetJobEntity",
                lambda batch=batch: self._client.batch_get_job_entity(  # type: ignore[misc]
                    farmId=self._farm_id, fleetId=self._fleet_id, workerId=self._worker_id, identifiers=batch
                ),
                stop=self._stop,
            )
            for entity in answer.get("entities", []):
                kind, body = next(iter(entity.items()))
                self._cache[(kind, _entity_id(kind, body))] = body
            for error in answer.get("errors", []):
                kind, body = next(iter(error.items()))
                key = (kind, _entity_id(kind, body))
                if body.get("code") != "MaxPayloadSizeExceeded":
                    self._errors[key] = f"{body.get('code')}: {body.get('message')}"

    def _get(self, identifier: dict[str, Any]) -> dict[str, Any]:
        key = _key(identifier)
        if key not in self._cache and key not in self._errors:
            self.prefetch([identifier])
        if key in self._errors:
            raise EntityError(f"{key[0]} {key[1]}: {self._errors[key]}")
        if key not in self._cache:
            raise EntityError(f"{key[0]} {key[1]}: the farm returned neither the entity nor an error")
        return self._cache[key]

    # -- typed views -----------------------------------------------------------------------------

    def job(self) -> JobDetails:
        if self._job is None:
            body = self._get({"jobDetails": {"jobId": self.job_id}})
            if body.get("schemaVersion") != SUPPORTED_SCHEMA:
                raise EntityError(f"job schema {body.get('schemaVersion')!r} is not supported")
            settings = body.get("jobAttachmentSettings") or {}
            self._job = JobDetails(
                job_id=body["jobId"],
                log_group_name=body.get("logGroupName", ""),
                parameters=parameter_values(body.get("parameters")),
                path_mapping_rules=path_mapping_rules(body.get("pathMappingRules")),
                attachments_bucket=settings.get("s3BucketName"),
                attachments_root_prefix=settings.get("rootPrefix"),
                queue_role_arn=body.get("queueRoleArn"),
                extensions=_extensions(body),
                raw=body,
            )
        return self._job

    def step(self, step_id: str) -> StepTemplate:
        if step_id not in self._steps:
            body = self._get({"stepDetails": {"jobId": self.job_id, "stepId": step_id}})
            if body.get("schemaVersion") != SUPPORTED_SCHEMA:
                raise EntityError(f"step schema {body.get('schemaVersion')!r} is not supported")
            template = body["template"]
            if "name" not in template:
                template = {"name": "Step", "script": template}
            try:
                self._steps[step_id] = parse_model(
                    model=StepTemplate, obj=template, supported_extensions=_extensions(body)
                )
            except Exception as error:
                raise EntityError(f"step {step_id} template is not valid: {error}") from error
        return self._steps[step_id]

    def environment(self, environment_id: str) -> Environment:
        if environment_id not in self._environments:
            body = self._get({"environmentDetails": {"jobId": self.job_id, "environmentId": environment_id}})
            if body.get("schemaVersion") not in ENVIRONMENT_SCHEMAS:
                raise EntityError(f"environment schema {body.get('schemaVersion')!r} is not supported")
            try:
                self._environments[environment_id] = parse_model(
                    model=Environment, obj=body["template"], supported_extensions=_extensions(body)
                )
            except Exception as error:
                raise EntityError(f"environment {environment_id} is not valid: {error}") from error
        return self._environments[environment_id]

    def step_symbols(self, step_id: str) -> SerializedSymbolTable | None:
        """openjd's resolved symbol table of an EXPR step (its `let` bindings), None without one."""
        return _symbol_table(self._get({"stepDetails": {"jobId": self.job_id, "stepId": step_id}}))

    def environment_symbols(self, environment_id: str) -> SerializedSymbolTable | None:
        """openjd's resolved symbol table for an environment of an EXPR job, None without one."""
        body = self._get({"environmentDetails": {"jobId": self.job_id, "environmentId": environment_id}})
        return _symbol_table(body)

    def step_dependencies(self, step_id: str) -> list[str]:
        """The ids of the steps `step_id` depends on (from its stepDetails)."""
        body = self._get({"stepDetails": {"jobId": self.job_id, "stepId": step_id}})
        return [str(d) for d in body.get("dependencies") or []]

    def attachments(self) -> dict[str, Any] | None:
        body = self._get({"jobAttachmentDetails": {"jobId": self.job_id}})
        attachments = body.get("attachments")
        return dict(attachments) if attachments else None


def _symbol_table(body: dict[str, Any]) -> SerializedSymbolTable | None:
    text = body.get("resolvedSymbolTable")
    if not text:
        return None
    try:
        return SerializedSymbolTable.from_json_str(text)
    except Exception as error:
        raise EntityError(f"the resolved symbol table is not valid: {error}") from error


def _entity_id(kind: str, body: dict[str, Any]) -> str:
    if kind == "stepDetails":
        return str(body.get("stepId"))
    if kind == "environmentDetails":
        return str(body.get("environmentId"))
    return str(body.get("jobId"))


def _key(identifier: dict[str, Any]) -> tuple[str, str]:
    kind, body = next(iter(identifier.items()))
    return kind, _entity_id(kind, body)
