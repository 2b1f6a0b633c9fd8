"""Job parameters: the bundle's, the queue environments', and the caller's, merged into one list.

Entries are dicts in the template's own form (`name`, `type`, constraints, `default`, `userInterface`)
plus a `value` once one is known. Entries without `type` are values for names the template does not
define: queue-environment parameters or namespaced app parameters such as `deadline:priority`.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from ...parameter_types import JOB_PARAMETER_MEMBERS
from ..exceptions import DeadlineOperationError
from ._loader import AssetReferences, JobBundleTemplate, read_parameter_values

__all__ = [
    "APP_PARAMETER_FIELDS",
    "PARAMETER_TYPES",
    "apply_job_parameters",
    "merge_queue_job_parameters",
    "parameter_definition_difference",
    "parameter_value_to_api",
    "read_job_bundle_parameters",
    "split_parameter_args",
    "validate_parameter_definition",
    "validate_parameter_value",
]

#: Job parameter types and the CreateJob union member that carries each.
PARAMETER_TYPES = JOB_PARAMETER_MEMBERS
#: `deadline:<x>` app parameters and the CreateJob field each one sets.
APP_PARAMETER_FIELDS = {
    "deadline:targetTaskRunStatus": "targetTaskRunStatus",
    "deadline:priority": "priority",
    "deadline:maxFailedTasksCount": "maxFailedTasksCount",
    "deadline:maxRetriesPerTask": "maxRetriesPerTask",
    "deadline:maxWorkerCount": "maxWorkerCount",
}
_DATA_FLOWS = {"NONE", "IN", "OUT", "INOUT"}
_OBJECT_TYPES = {"FILE", "DIRECTORY"}
_COMPARED_FIELDS = (
    "name",
    "type",
    "minValue",
    "maxValue",
    "minLength",
    "maxLength",
    "dataFlow",
    "objectType",
)
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}
_MAX_PATH_LENGTH = 1024


def _is_uri(value: str) -> bool:
    return "://" in value and not os.path.isabs(value)


def validate_parameter_definition(definition: dict[str, Any], *, default_required: bool = False) -> None:
    """A definition's type, dataFlow and objectType are known; `default` present if required."""
    name = definition.get("name")
    if not isinstance(name, str) or not name:
        raise DeadlineOperationError(f"A job parameter definition has no name: {definition!r}")
    kind = definition.get("type")
    if kind not in PARAMETER_TYPES:
        raise DeadlineOperationError(f"Job parameter {name!r} has unknown type {kind!r}")
    if "dataFlow" in definition and definition["dataFlow"] not in _DATA_FLOWS:
        raise DeadlineOperationError(
            f"Job parameter {name!r} has unknown dataFlow {definition['dataFlow']!r}"
        )
    if "objectType" in definition and definition["objectType"] not in _OBJECT_TYPES:
        raise DeadlineOperationError(
            f"Job parameter {name!r} has unknown objectType {definition['objectType']!r}"
        )
    if default_required and "default" not in definition:
        raise DeadlineOperationError(f"Queue environment parameter {name!r} has no default value")


def _to_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise DeadlineOperationError(
                f"Job parameter {name!r} needs a list (a JSON array): {error}"
            ) from error
    if not isinstance(value, list):
        raise DeadlineOperationError(f"Job parameter {name!r} needs a list, got {value!r}")
    return value


def _scalar(name: str, kind: str, value: Any, definition: dict[str, Any]) -> Any:
    """The value checked against its type and constraints (numbers as numbers, bools as bool)."""
    if kind == "INT":
        try:
            number: float = int(str(value).strip())
        except ValueError:
            raise DeadlineOperationError(f"Job parameter {name!r} needs an integer, got {value!r}") from None
    elif kind == "FLOAT":
        try:
            number = float(str(value).strip())
        except ValueError:
            raise DeadlineOperationError(f"Job parameter {name!r} needs a number, got {value!r}") from None
    elif kind == "BOOL":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in _TRUE_WORDS | _FALSE_WORDS:
            raise DeadlineOperationError(f"Job parameter {name!r} needs true or false, got {value!r}")
        return word in _TRUE_WORDS
    else:
        text = str(value)
        if kind == "PATH" and len(text) > _MAX_PATH_LENGTH:
            raise DeadlineOperationError(
                f"Job parameter {name!r} is longer than {_MAX_PATH_LENGTH} characters"
            )
        if "minLength" in definition and len(text) < int(definition["minLength"]):
            raise DeadlineOperationError(
                f"Job parameter {name!r} must be at least {definition['minLength']} characters long"
            )
        if "maxLength" in definition and len(text) > int(definition["maxLength"]):
            raise DeadlineOperationError(
                f"Job parameter {name!r} must be at most {definition['maxLength']} characters long"
            )
        allowed = definition.get("allowedValues")
        if allowed and kind in ("STRING", "PATH") and text not in [str(a) for a in allowed]:
            raise DeadlineOperationError(f"Job parameter {name!r} must be one of {allowed}, got {text!r}")
        return text
    if "minValue" in definition and number < float(definition["minValue"]):
        raise DeadlineOperationError(f"Job parameter {name!r} must be at least {definition['minValue']}")
    if "maxValue" in definition and number > float(definition["maxValue"]):
        raise DeadlineOperationError(f"Job parameter {name!r} must be at most {definition['maxValue']}")
    allowed = definition.get("allowedValues")
    if allowed and number not in [float(a) for a in allowed]:
        raise DeadlineOperationError(f"Job parameter {name!r} must be one of {allowed}, got {value!r}")
    return number


def validate_parameter_value(definition: dict[str, Any], value: Any) -> Any:
    """Check a value against its definition; returns it normalised (lists as lists)."""
    name, kind = definition["name"], definition["type"]
    if kind == "RANGE_EXPR":
        from openjd.model import IntRangeExpr

        try:
            IntRangeExpr.from_str(str(value))
        except (ValueError, TypeError) as error:
            raise DeadlineOperationError(
                f"Job parameter {name!r} is not a range expression: {error}"
            ) from error
        return str(value)
    if kind == "LIST[LIST[INT]]":
        rows = _to_list(name, value)
        return [[int(_scalar(name, "INT", item, {})) for item in _to_list(name, row)] for row in rows]
    if kind.startswith("LIST["):
        item_kind = kind[len("LIST[") : -1]
        item_rules = definition.get("item") or {}
        items = _to_list(name, value)
        for bound, check in (("minItems", int.__lt__), ("maxItems", int.__gt__)):
            if bound in definition and check(len(items), int(definition[bound])):
                raise DeadlineOperationError(f"Job parameter {name!r} violates {bound}={definition[bound]}")
        return [_scalar(name, item_kind, item, item_rules) for item in items]
    checked = _scalar(name, kind, value, definition)
    return value if kind in ("INT", "FLOAT") else checked


def parameter_definition_difference(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """The constraint fields in which two definitions of one name differ (defaults/UI are ignored)."""
    differences = [
        f for f in _COMPARED_FIELDS if (f in first) != (f in second) or first.get(f) != second.get(f)
    ]
    if ("allowedValues" in first) != ("allowedValues" in second) or (
        "allowedValues" in first
        and {str(v) for v in first["allowedValues"]} != {str(v) for v in second["allowedValues"]}
    ):
        differences.append("allowedValues")
    if first.get("item") != second.get("item"):
        differences.append("item")
    return differences


def _bundle_relative_path(bundle_dir: Path, name: str, raw: str, what: str) -> str:
    """A PATH given inside the bundle: relative to the bundle directory, which it must not leave."""
    if os.path.isabs(raw):
        raise DeadlineOperationError(
            f"Job parameter {name!r} {what} {raw!r} is absolute. PATH values must be relative to the bundle."
        )
    root = os.path.abspath(bundle_dir)
    joined = os.path.normpath(os.path.join(root, raw))
    if joined != root and not joined.startswith(root + os.sep):
        raise DeadlineOperationError(
            f"Job parameter {name!r} {what} {raw!r} specifies files outside of Job Bundle directory {root!r}"
        )
    return joined


def _value_relative_to_bundle(bundle_dir: Path, raw: Any) -> Any:
    if not isinstance(raw, str) or not raw or _is_uri(raw):
        return raw
    expanded = os.path.expanduser(raw)
    if os.path.isabs(expanded):
        return os.path.normpath(expanded)
    return os.path.normpath(os.path.join(os.path.abspath(bundle_dir), expanded))


def read_job_bundle_parameters(bundle_dir: Path, template: JobBundleTemplate) -> list[dict[str, Any]]:
    """The template's definitions with the bundle's values; unknown bundle names as bare entries.

    PATH values from `parameter_values` and PATH defaults are resolved against the bundle directory.
    """
    raw_definitions = template.document.get("parameterDefinitions") or []
    if not isinstance(raw_definitions, list):
        raise DeadlineOperationError("The job template's parameterDefinitions must be a list")
    definitions: dict[str, dict[str, Any]] = {}
    for raw in raw_definitions:
        definition = copy.deepcopy(raw)
        if template.uses_expr and isinstance(definition.get("type"), str):
            definition["type"] = definition["type"].upper()
        validate_parameter_definition(definition)
        definitions[definition["name"]] = definition
    extras: list[dict[str, Any]] = []
    for entry in read_parameter_values(bundle_dir):
        name = entry["name"]
        target = definitions.get(name)
        if target is None:
            extras.append({"name": name, "value": entry.get("value")})
            continue
        value = entry.get("value")
        if target["type"] == "PATH":
            value = _value_relative_to_bundle(bundle_dir, value)
        elif target["type"] == "LIST[PATH]" and value is not None:
            value = [_value_relative_to_bundle(bundle_dir, item) for item in _to_list(name, value)]
        target["value"] = value
    for definition in definitions.values():
        name, kind = definition["name"], definition["type"]
        if "value" not in definition and definition.get("default") not in (None, "", []):
            default = definition["default"]
            if kind == "PATH" and not (template.uses_expr and _is_uri(str(default))):
                definition["value"] = _bundle_relative_path(bundle_dir, name, str(default), "default")
            elif kind == "LIST[PATH]":
                definition["value"] = [
                    item
                    if template.uses_expr and _is_uri(str(item))
                    else _bundle_relative_path(bundle_dir, name, str(item), "default")
                    for item in _to_list(name, default)
                ]
        if "value" in definition and definition["value"] is not None:
            definition["value"] = validate_parameter_value(definition, definition["value"])
        control = (definition.get("userInterface") or {}).get("control")
        if control == "HIDDEN" and "value" not in definition and "default" not in definition:
            raise DeadlineOperationError(
                f'Job bundle validation failed: Hidden parameter "{name}" is missing a value. '
                "Give it a default in the template or a value in parameter_values."
            )
    return [*definitions.values(), *extras]


def merge_queue_job_parameters(
    job_parameters: list[dict[str, Any]], queue_parameters: list[dict[str, Any]], queue_id: str | None = None
) -> list[dict[str, Any]]:
    """Queue-environment definitions overlaid with the bundle's; conflicting definitions are an error."""
    merged: dict[str, dict[str, Any]] = {p["name"]: copy.deepcopy(p) for p in queue_parameters}
    conflicts: list[str] = []
    extras: list[dict[str, Any]] = []
    for entry in job_parameters:
        name = entry["name"]
        target = merged.get(name)
        if target is None:
            if "type" not in entry and ":" not in name:
                raise DeadlineOperationError(
                    f'Parameter value was provided for an undefined parameter "{name}"'
                )
            extras.append(copy.deepcopy(entry))
            continue
        if "value" in entry:
            target["value"] = entry["value"]
        if "type" not in entry:
            continue
        if "default" in entry:
            target["default"] = entry["default"]
        differences = parameter_definition_difference(target, entry)
        if differences:
            conflicts.append(f'{name}: differences for fields "{differences}"')
    if conflicts:
        raise DeadlineOperationError(
            f"The target queue ({queue_id}) and job bundle have conflicting parameter definitions:\n"
            + "\n".join(conflicts)
        )
    return [*merged.values(), *extras]


def _reference_path(refs: AssetReferences, definition: dict[str, Any], path: str) -> None:
    if not path or _is_uri(path):
        return
    data_flow = definition.get("dataFlow", "NONE")
    is_file = definition.get("objectType") == "FILE"
    if data_flow == "NONE":
        refs.referenced_paths.add(path)
    if data_flow in ("IN", "INOUT"):
        (refs.input_filenames if is_file else refs.input_directories).add(path)
    if data_flow in ("OUT", "INOUT"):
        refs.output_directories.add(os.path.dirname(path) if is_file else path)


def _caller_path(value: Any) -> Any:
    """A path the caller typed: relative ones are relative to the working directory."""
    if not isinstance(value, str) or not value or _is_uri(value):
        return value
    return os.path.normpath(os.path.join(os.getcwd(), os.path.expanduser(value)))


def apply_job_parameters(
    caller_parameters: list[dict[str, Any]],
    merged: list[dict[str, Any]],
    asset_references: AssetReferences,
) -> AssetReferences:
    """Set the caller's values on the merged list (in place); unknown caller names are an error.

    Returns the asset references with every PATH parameter value added by its data flow.
    """
    by_name = {entry["name"]: entry for entry in merged}
    for supplied in caller_parameters:
        name, value = supplied["name"], supplied.get("value")
        target = by_name.get(name)
        if target is None:
            if ":" in name:
                entry = {"name": name, "value": value}
                merged.append(entry)
                by_name[name] = entry
                continue
            known = ", ".join(sorted(n for n, e in by_name.items() if "type" in e)) or "none"
            raise DeadlineOperationError(f"The job has no parameter named {name!r} (its parameters: {known})")
        if "type" not in target:
            target["value"] = value
            continue
        kind = target["type"]
        if kind == "PATH":
            if value == "":
                continue
            value = _caller_path(value)
        elif kind == "LIST[PATH]":
            value = [_caller_path(item) for item in _to_list(name, value)]
        target["value"] = validate_parameter_value(target, value)
    references = AssetReferences(
        set(asset_references.input_filenames),
        set(asset_references.input_directories),
        set(asset_references.output_directories),
        set(asset_references.referenced_paths),
    )
    for entry in merged:
        if "type" not in entry:
            continue
        if entry.get("value") is None and "default" not in entry:
            raise DeadlineOperationError(
                f"No parameter value provided for Job Template parameter {entry['name']}, "
                "and it has no default value."
            )
        if entry.get("value") is None:
            continue
        if entry["type"] == "PATH":
            _reference_path(references, entry, str(entry["value"]))
        elif entry["type"] == "LIST[PATH]":
            for item in entry["value"]:
                _reference_path(references, entry, str(item))
    return references


def _bool_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "true" if str(value).strip().lower() in _TRUE_WORDS else "false"


def parameter_value_to_api(kind: str, value: Any) -> dict[str, Any]:
    """One value in CreateJob's union form, e.g. `{"int": "7"}` or `{"pathList": [...]}`."""
    member = PARAMETER_TYPES[kind]
    if kind == "BOOL":
        return {member: _bool_text(value)}
    if kind in ("INT", "FLOAT", "STRING", "PATH", "RANGE_EXPR"):
        return {member: str(value)}
    items = value if isinstance(value, list) else json.loads(value)
    if kind == "LIST[BOOL]":
        return {member: [_bool_text(item) for item in items]}
    if kind == "LIST[FLOAT]":
        return {member: [repr(float(item)) for item in items]}
    if kind == "LIST[LIST[INT]]":
        return {member: [[str(int(item)) for item in row] for row in items]}
    return {member: [str(item) for item in items]}


def split_parameter_args(
    parameters: list[dict[str, Any]], bundle_dir: str | os.PathLike[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(app parameters by CreateJob field, job parameters in CreateJob form)`; only entries with values."""
    app_parameters: dict[str, Any] = {}
    job_parameters: dict[str, Any] = {}
    for entry in parameters:
        if entry.get("value") is None:
            continue
        name = entry["name"]
        if name.startswith("deadline:"):
            field = APP_PARAMETER_FIELDS.get(name)
            if field is None:
                raise DeadlineOperationError(
                    f"Unrecognized parameter named {name!r} from job bundle {str(bundle_dir)!r}. "
                    f"Known ones: {', '.join(APP_PARAMETER_FIELDS)}"
                )
            value = entry["value"]
            app_parameters[field] = value if field == "targetTaskRunStatus" else int(value)
            continue
        if ":" in name or "type" not in entry:
            continue
        job_parameters[name] = parameter_value_to_api(entry["type"], entry["value"])
    return app_parameters, job_parameters
