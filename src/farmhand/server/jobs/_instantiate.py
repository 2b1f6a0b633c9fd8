"""From a CreateJob request to a job, its steps and its tasks, with openjd-model doing the OpenJD work.

openjd-model decodes the template (with the extensions it supports), merges queue-environment
parameter definitions, applies defaults and constraints, instantiates the job and iterates each
step's parameter space. This module only converts between the API's union forms and openjd's
values, and lays the result out as table rows (task parameters as ready-made JSON text, so a
million tasks cost one string each).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import yaml
from openjd.model import (
    DecodeValidationError,
    DocumentType,
    IntRangeExpr,
    ParameterValue,
    StepDependencyGraph,
    StepParameterSpaceIterator,
    create_job_with_symbol_tables,
    decode_environment_template,
    decode_job_template,
    document_string_to_object,
    merge_job_parameter_definitions,
    model_to_object,
    preprocess_job_parameters,
)
from openjd.model.v2023_09 import ExtensionName

from ...parameter_types import JOB_PARAMETER_MEMBERS, STEP_PARAMETER_TYPE_NAMES, TASK_PARAMETER_MEMBERS
from ..protocol import CannotParseError, ValidationError

#: Every OpenJD extension openjd-model implements; a template may ask for any of them.
SUPPORTED_EXTENSIONS = tuple(e.value for e in ExtensionName)

#: Job parameter definition types as the template spells them (`LIST_INT` enum names included).
_JOB_TYPE_ALIASES = {name.replace("[", "_").replace("]", ""): name for name in JOB_PARAMETER_MEMBERS}


@dataclass
class StepPlan:
    """One step of a job about to be written."""

    step_id: str
    index: int
    name: str
    description: str | None
    template: dict[str, Any]
    parameter_space: dict[str, Any] | None
    required_capabilities: dict[str, Any] | None
    upstream: list[str]
    space: Any  # openjd StepParameterSpace or None
    task_count: int
    initial_status: str
    resolved_symbol_table: str | None = None


@dataclass
class JobPlan:
    """Everything CreateJob writes, before any row exists."""

    name: str
    description: str | None
    extensions: list[str]
    resolved_parameters: dict[str, dict[str, Any]]
    environments: list[dict[str, Any]]
    steps: list[StepPlan] = field(default_factory=list)
    resolved_symbol_table: str | None = None

    @property
    def task_count(self) -> int:
        return sum(s.task_count for s in self.steps)


def load_document(text: str, template_type: str, field_name: str = "template") -> dict[str, Any]:
    """Parse JSON or YAML template text into a mapping (a parse error is CANNOT_PARSE)."""
    try:
        if template_type == "JSON":
            obj = json.loads(text)
        else:
            obj = document_string_to_object(document=text, document_type=DocumentType.YAML)
    except (ValueError, yaml.YAMLError) as error:
        raise CannotParseError(f"{field_name}: not valid {template_type}: {error}") from None
    if not isinstance(obj, dict):
        raise ValidationError.for_field(field_name, f"must be a {template_type} mapping")
    return obj


def decode_queue_environments(
    environments: Sequence[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], Any]]:
    """Decode the queue's environment templates (already in entry order) with openjd-model."""
    decoded = []
    for env in environments:
        doc = load_document(
            str(env["template"]), str(env.get("templateType", "YAML")), "queueEnvironment.template"
        )
        try:
            decoded.append(
                (env, decode_environment_template(template=doc, supported_extensions=SUPPORTED_EXTENSIONS))
            )
        except DecodeValidationError as error:
            raise ValidationError(
                f"Queue environment {env.get('name') or env.get('queueEnvironmentId')} is not a valid "
                f"environment template: {error}"
            ) from None
    return decoded


def plan_job(
    *,
    job_id: str,
    template_text: str,
    template_type: str,
    parameters: Mapping[str, Mapping[str, Any]] | None,
    queue_environments: Sequence[Mapping[str, Any]],
    new_step_id: Any,
    name_override: str | None = None,
    description_override: str | None = None,
    suspended: bool = False,
    max_tasks: int | None = None,
) -> tuple[JobPlan, dict[str, Any]]:
    """Validate and instantiate a template; returns the plan and the decoded document.

    A job whose parameter spaces hold more than `max_tasks` tasks is refused before anything is
    written; the count comes from the spaces' sizes, never from enumerating them.
    """
    document = load_document(template_text, template_type)
    try:
        job_template = decode_job_template(template=document, supported_extensions=SUPPORTED_EXTENSIONS)
    except DecodeValidationError as error:
        raise ValidationError(f"template: {error}") from None
    except (ValueError, TypeError, KeyError, IndexError) as error:
        # openjd-model 0.14 fails while *reporting* some template-level errors (a dependency cycle
        # among them); say what is wrong in terms the submitter can act on.
        cycle = _dependency_cycle(document)
        if cycle:
            raise ValidationError(f"template: steps: circular step dependency {' -> '.join(cycle)}") from None
        problem = f"{type(error).__name__}: {error}"
        raise ValidationError(f"template: not a valid job template ({problem})") from None
    decoded_envs = decode_queue_environments(queue_environments)
    env_templates = [t for _, t in decoded_envs]
    definitions = _definition_types(job_template, env_templates)
    values = _plain_values(parameters or {}, definitions)
    try:
        resolved = preprocess_job_parameters(
            job_template=job_template,
            job_parameter_values=values,
            job_template_dir=Path(),
            current_working_dir=Path(),
            allow_job_template_dir_walk_up=True,
            environment_templates=env_templates or None,
        )
        with_tables = create_job_with_symbol_tables(
            job_template=job_template,
            job_parameter_values=resolved,
            environment_templates=env_templates or None,
        )
        job = with_tables.job
    except (ValueError, DecodeValidationError) as error:
        raise ValidationError(f"parameters: {error}") from None
    try:
        StepDependencyGraph(job=job)
    except (ValueError, RuntimeError) as error:  # pragma: no cover - decode already rejects cycles
        raise ValidationError(f"template: {error}") from None

    # EXPR templates need openjd's resolved symbol tables on the worker (stepDetails/environmentDetails).
    uses_expr = "EXPR" in [str(getattr(e, "value", e)) for e in (job.extensions or [])]
    raw_steps = document.get("steps") or []
    ids = {step.name: new_step_id() for step in job.steps}
    steps: list[StepPlan] = []
    for index, step in enumerate(job.steps):
        upstream = [ids[d.dependsOn] for d in (step.dependencies or [])]
        space = step.parameterSpace
        try:
            count = len(StepParameterSpaceIterator(space=space))
        except ValueError as error:
            raise ValidationError(f"template: steps[{index}] -> parameterSpace: {error}") from None
        planned = count + sum(s.task_count for s in steps)
        if max_tasks is not None and planned > max_tasks:
            raise ValidationError(
                f"template: the job has more than {max_tasks:,} tasks (the farm's limit per job): "
                f"step {step.name!r} has {count:,}"
                + (f" and the steps before it {planned - count:,}" if planned > count else ""),
                context={"maxTasksPerJob": str(max_tasks), "step": step.name},
            )
        initial = "SUSPENDED" if suspended else "PENDING" if upstream else "READY"
        steps.append(
            StepPlan(
                step_id=ids[step.name],
                index=index,
                name=step.name,
                description=step.description,
                template=dict(raw_steps[index]) if index < len(raw_steps) else model_to_object(model=step),
                parameter_space=_api_parameter_space(space),
                required_capabilities=_api_capabilities(step.hostRequirements),
                upstream=upstream,
                space=space,
                task_count=count,
                initial_status=initial,
                resolved_symbol_table=_symbol_table_text(
                    with_tables.step_symbol_tables.get(step.name), uses_expr
                ),
            )
        )
    environments = [
        {
            "environmentId": f"JOB:{job_id}:{env.get('queueEnvironmentId') or template.environment.name}",
            "schemaVersion": "environment-2023-09",
            "template": _environment_object(env, template),
        }
        for env, template in decoded_envs
    ]
    raw_job_envs = document.get("jobEnvironments") or []
    for index, env_model in enumerate(job.jobEnvironments or []):
        environments.append(
            {
                "environmentId": f"JOB:{job_id}:{env_model.name}",
                "schemaVersion": "jobtemplate-2023-09",
                "template": dict(raw_job_envs[index])
                if index < len(raw_job_envs)
                else model_to_object(model=env_model),
            }
        )
    plan = JobPlan(
        name=name_override or job.name,
        description=description_override if description_override is not None else job.description,
        extensions=[str(getattr(e, "value", e)) for e in (job.extensions or [])],
        resolved_parameters={name: union_value(value) for name, value in resolved.items()},
        environments=environments,
        steps=steps,
        resolved_symbol_table=_symbol_table_text(with_tables.job_symbol_table, uses_expr),
    )
    return plan, document


def _symbol_table_text(table: Any, wanted: bool) -> str | None:
    """openjd's serialized symbol table as the JSON string the worker protocol carries."""
    if not wanted or table is None:
        return None
    return str(table.to_json_str())


def _dependency_cycle(document: Mapping[str, Any]) -> list[str]:
    """The first cycle among the raw template's step dependencies (for the error message only)."""
    raw_steps = document.get("steps") if isinstance(document.get("steps"), list) else []
    upstream = {
        str(s.get("name")): [
            str(d.get("dependsOn")) for d in s.get("dependencies") or [] if isinstance(d, dict)
        ]
        for s in raw_steps or []
        if isinstance(s, dict)
    }
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(name: str) -> list[str]:
        if state.get(name) == 1:
            return [*trail[trail.index(name) :], name]
        if state.get(name) == 2 or name not in upstream:
            return []
        state[name] = 1
        trail.append(name)
        for up in upstream[name]:
            found = visit(up)
            if found:
                return found
        trail.pop()
        state[name] = 2
        return []

    for name in upstream:
        found = visit(name)
        if found:
            return found
    return []


def _environment_object(env: Mapping[str, Any], template: Any) -> dict[str, Any]:
    doc = load_document(
        str(env["template"]), str(env.get("templateType", "YAML")), "queueEnvironment.template"
    )
    raw = doc.get("environment")
    return dict(raw) if isinstance(raw, dict) else dict(model_to_object(model=template.environment))


def _definition_types(job_template: Any, env_templates: list[Any]) -> dict[str, str]:
    """Name → openjd type name (`INT`, `LIST[INT]`, ...) of every job and queue-environment parameter."""
    try:
        merged = merge_job_parameter_definitions(
            job_template=job_template, environment_templates=env_templates or None
        )
    except (ValueError, TypeError) as error:
        raise ValidationError(f"parameters: {error}") from None
    types: dict[str, str] = {}
    for definition in merged:
        raw = str(getattr(definition.type, "value", definition.type))
        types[definition.name] = _JOB_TYPE_ALIASES.get(raw, raw)
    return types


def _plain_values(parameters: Mapping[str, Mapping[str, Any]], types: Mapping[str, str]) -> dict[str, Any]:
    """The request's union values as openjd input values, checking the union member against the type."""
    values: dict[str, Any] = {}
    for name, union in parameters.items():
        if not isinstance(union, Mapping) or len(union) != 1:
            raise ValidationError.for_field(f"parameters.{name}", "must set exactly one typed value")
        member, value = next(iter(union.items()))
        expected_type = types.get(name)
        if expected_type is not None:
            expected = JOB_PARAMETER_MEMBERS.get(expected_type)
            if expected is not None and member != expected:
                raise ValidationError.for_field(
                    f"parameters.{name}",
                    f"is defined as {expected_type} and needs a '{expected}' value, but '{member}' was given",
                )
        values[name] = _openjd_input(member, value, name)
    return values


def _openjd_input(member: str, value: Any, name: str) -> Any:
    try:
        if member == "intList":
            return [int(v) for v in value]
        if member == "floatList":
            return [float(v) for v in value]
        if member == "intListList":
            return [[int(v) for v in inner] for inner in value]
    except (TypeError, ValueError):
        raise ValidationError.for_field(f"parameters.{name}", f"'{member}' items must be numbers") from None
    if isinstance(value, list):
        return list(value)
    return str(value)


def union_value(value: ParameterValue) -> dict[str, Any]:
    """An openjd parameter value in the API's union form (`{"int": "5"}`, `{"intList": ["1"]}`)."""
    type_name = str(getattr(value.type, "value", value.type))
    member = JOB_PARAMETER_MEMBERS.get(type_name) or TASK_PARAMETER_MEMBERS.get(type_name, "string")
    raw = value.value
    if isinstance(raw, list):
        return {member: [_as_text(v) if not isinstance(v, list) else [_as_text(x) for x in v] for v in raw]}
    return {member: _as_text(raw)}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _api_parameter_space(space: Any) -> dict[str, Any] | None:
    if space is None:
        return None
    parameters = []
    for name, definition in space.taskParameterDefinitions.items():
        type_name = str(getattr(definition.type, "value", definition.type))
        entry: dict[str, Any] = {"name": name, "type": STEP_PARAMETER_TYPE_NAMES.get(type_name, type_name)}
        chunks = getattr(definition, "chunks", None)
        if chunks is not None:
            entry["chunks"] = {
                "defaultTaskCount": int(chunks.defaultTaskCount),
                "rangeConstraint": str(getattr(chunks.rangeConstraint, "value", chunks.rangeConstraint)),
            }
            if chunks.targetRuntimeSeconds is not None:
                entry["chunks"]["targetRuntimeSeconds"] = int(chunks.targetRuntimeSeconds)
        parameters.append(entry)
    result: dict[str, Any] = {"parameters": parameters}
    if space.combination:
        result["combination"] = str(space.combination)
    return result


def _api_capabilities(requirements: Any) -> dict[str, Any] | None:
    if requirements is None:
        return None
    amounts = []
    for amount in requirements.amounts or []:
        entry: dict[str, Any] = {"name": amount.name}
        if amount.min is not None:
            entry["min"] = float(amount.min)
        if amount.max is not None:
            entry["max"] = float(amount.max)
        amounts.append(entry)
    attributes = []
    for attribute in requirements.attributes or []:
        entry = {"name": attribute.name}
        if attribute.anyOf:
            entry["anyOf"] = [str(v) for v in attribute.anyOf]
        if attribute.allOf:
            entry["allOf"] = [str(v) for v in attribute.allOf]
        attributes.append(entry)
    return {"amounts": amounts, "attributes": attributes}


def int_progressions(space: Any) -> tuple[str, list[tuple[int, int, int]]] | None:
    """For a space of one INT range parameter: its name and openjd's sub-ranges as
    `(first value, step between values, count)`, in iteration order. None for any other space.

    The database can then generate such tasks itself (see `_writer`), with no per-task Python work.
    """
    if space is None or len(space.taskParameterDefinitions) != 1:
        return None
    name, definition = next(iter(space.taskParameterDefinitions.items()))
    type_name = str(getattr(definition.type, "value", definition.type))
    if type_name != "INT" or not isinstance(definition.range, IntRangeExpr):
        return None
    progressions = []
    for sub_range in definition.range.ranges:
        head = list(islice(iter(sub_range), 2))
        delta = head[1] - head[0] if len(head) == 2 else 1
        progressions.append((head[0], delta, len(sub_range)))
    return name, progressions


def task_parameter_texts(space: Any) -> Iterator[str | None]:
    """The JSON text of each task's parameters, in openjd's iteration order (None: no parameters).

    The common one-integer-range space (frames) reads the values straight from openjd's
    `IntRangeExpr`; every other space goes through `StepParameterSpaceIterator`.
    """
    if space is None:
        yield None
        return
    definitions = space.taskParameterDefinitions
    if len(definitions) == 1:
        name, definition = next(iter(definitions.items()))
        type_name = str(getattr(definition.type, "value", definition.type))
        if type_name == "INT" and isinstance(definition.range, IntRangeExpr):
            prefix = "{" + json.dumps(name) + ':{"int":"'
            for number in definition.range:
                yield f'{prefix}{number}"}}}}'
            return
    separators = (",", ":")
    for parameter_set in StepParameterSpaceIterator(space=space):
        yield json.dumps(
            {
                name: {
                    TASK_PARAMETER_MEMBERS.get(str(getattr(v.type, "value", v.type)), "string"): str(v.value)
                }
                for name, v in parameter_set.items()
            },
            separators=separators,
        )
