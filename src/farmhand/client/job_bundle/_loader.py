"""Reading a job bundle directory: the template, parameter values and asset references."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import DeadlineOperationError

__all__ = [
    "AssetReferences",
    "JobBundleTemplate",
    "check_bundle_containment",
    "describe_template_error",
    "read_asset_references",
    "read_bundle_file",
    "read_job_template",
    "read_parameter_values",
    "validate_job_template",
]

SPECIFICATION_VERSION = "jobtemplate-2023-09"


@dataclass
class AssetReferences:
    """Paths a submission reads, writes or just mentions; absolute once resolved."""

    input_filenames: set[str] = field(default_factory=set)
    input_directories: set[str] = field(default_factory=set)
    output_directories: set[str] = field(default_factory=set)
    referenced_paths: set[str] = field(default_factory=set)

    def union(self, other: AssetReferences) -> AssetReferences:
        return AssetReferences(
            self.input_filenames | other.input_filenames,
            self.input_directories | other.input_directories,
            self.output_directories | other.output_directories,
            self.referenced_paths | other.referenced_paths,
        )

    def has_paths(self) -> bool:
        return bool(
            self.input_filenames or self.input_directories or self.output_directories or self.referenced_paths
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "assetReferences": {
                "inputs": {
                    "filenames": sorted(self.input_filenames),
                    "directories": sorted(self.input_directories),
                },
                "outputs": {"directories": sorted(self.output_directories)},
                "referencedPaths": sorted(self.referenced_paths),
            }
        }


@dataclass
class JobBundleTemplate:
    """The template as sent to CreateJob (text and type) and as parsed, with its extensions."""

    text: str
    template_type: str
    document: dict[str, Any]

    @property
    def extensions(self) -> list[str]:
        return [str(name) for name in self.document.get("extensions") or []]

    @property
    def uses_expr(self) -> bool:
        return "EXPR" in self.extensions

    def with_name(self, name: str) -> JobBundleTemplate:
        """The template with its `name` replaced (re-serialised: comments and layout are lost)."""
        document = {**self.document, "name": name}
        if self.template_type == "JSON":
            text = json.dumps(document, indent=1)
        else:
            text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return JobBundleTemplate(text, self.template_type, document)


def check_bundle_containment(bundle_dir: str | os.PathLike[str]) -> Path:
    """The bundle directory, after checking that nothing inside it links outside of it."""
    path = Path(bundle_dir)
    if not path.is_dir():
        raise DeadlineOperationError(f"Job bundle path {str(path)!r} is not a directory.")
    root = path.resolve()
    for current, directories, files in os.walk(path):
        for entry in [*directories, *files]:
            target = Path(current, entry).resolve()
            if target != root and root not in target.parents:
                raise DeadlineOperationError(
                    f"Job bundle entry {os.path.join(current, entry)!r} resolves to {str(target)!r}, "
                    "outside of the job bundle directory."
                )
    return path


def read_bundle_file(bundle_dir: Path, stem: str) -> tuple[str, str, Any] | None:
    """`(text, "YAML"|"JSON", parsed)` of `<stem>.yaml` or `<stem>.json`, or None when neither exists."""
    yaml_path, json_path = bundle_dir / f"{stem}.yaml", bundle_dir / f"{stem}.json"
    if yaml_path.is_file() and json_path.is_file():
        raise DeadlineOperationError(
            f"Job bundle directory has both {stem}.json and {stem}.yaml, only one is permitted"
        )
    chosen, kind = (yaml_path, "YAML") if yaml_path.is_file() else (json_path, "JSON")
    if not chosen.is_file():
        return None
    text = chosen.read_text(encoding="utf-8")
    try:
        parsed = yaml.safe_load(text) if kind == "YAML" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise DeadlineOperationError(f"Error loading '{chosen.name}': {error}") from error
    return text, kind, parsed


def read_job_template(bundle_dir: Path) -> JobBundleTemplate:
    """The bundle's `template.yaml` or `template.json`."""
    loaded = read_bundle_file(bundle_dir, "template")
    if loaded is None:
        raise DeadlineOperationError(
            f"Job bundle directory {str(bundle_dir)!r} lacks a template.json or template.yaml"
        )
    text, kind, document = loaded
    if not isinstance(document, dict):
        raise DeadlineOperationError(f"Job template in {str(bundle_dir)!r} is not a mapping/object.")
    version = document.get("specificationVersion")
    if version != SPECIFICATION_VERSION:
        raise DeadlineOperationError(
            f"Job template has unsupported specificationVersion {version!r} "
            f"(expected {SPECIFICATION_VERSION!r})"
        )
    return JobBundleTemplate(text, kind, document)


def validate_job_template(template: JobBundleTemplate) -> None:
    """Check the template with openjd-model so a mistake is reported before anything is sent."""
    from openjd.model import DecodeValidationError, decode_job_template
    from openjd.model.v2023_09 import ExtensionName

    try:
        decode_job_template(template=template.document, supported_extensions=[e.value for e in ExtensionName])
    except DecodeValidationError as error:
        raise DeadlineOperationError(describe_template_error(str(error))) from error


def describe_template_error(report: str) -> str:
    """openjd's validation report (from openjd-model here, or from the farm) as one line."""
    return f"The job template is not valid: {_one_line(report)}"


def _one_line(report: str) -> str:
    """openjd's multi-line report as `field: problem; field: problem` (one line for a terminal)."""
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    if lines and "validation error" in lines[0]:
        lines = lines[1:]
    entries: list[str] = []
    for line in lines:
        if entries and entries[-1].endswith(":"):
            entries[-1] = f"{entries[-1]} {line}"
        else:
            entries.append(line)
    return "; ".join(entries) or report


def read_parameter_values(bundle_dir: Path) -> list[dict[str, Any]]:
    """`parameterValues` of `parameter_values.yaml|json` (empty when the file is absent)."""
    loaded = read_bundle_file(bundle_dir, "parameter_values")
    if loaded is None:
        return []
    document = loaded[2]
    values = document.get("parameterValues") if isinstance(document, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, dict) and "name" in v for v in values):
        raise DeadlineOperationError(
            "parameter_values must be a mapping with a 'parameterValues' list of {name, value} entries"
        )
    return [dict(v) for v in values]


def _resolve(bundle_dir: Path, raw: str) -> str:
    """A bundle-relative path made absolute against the bundle (not the working directory)."""
    expanded = os.path.expanduser(raw)
    if not os.path.isabs(expanded):
        expanded = os.path.join(os.path.abspath(bundle_dir), expanded)
    return os.path.normpath(expanded)


def read_asset_references(bundle_dir: Path) -> AssetReferences:
    """`assetReferences` of `asset_references.yaml|json`, relative paths resolved against the bundle."""
    loaded = read_bundle_file(bundle_dir, "asset_references")
    if loaded is None:
        return AssetReferences()
    document = loaded[2]
    refs = document.get("assetReferences") if isinstance(document, dict) else None
    if not isinstance(refs, dict):
        raise DeadlineOperationError("asset_references must be a mapping with an 'assetReferences' mapping")
    inputs = refs.get("inputs") or {}
    outputs = refs.get("outputs") or {}

    def paths(values: Any) -> set[str]:
        return {_resolve(bundle_dir, str(value)) for value in values or []}

    return AssetReferences(
        input_filenames=paths(inputs.get("filenames")),
        input_directories=paths(inputs.get("directories")),
        output_directories=paths(outputs.get("directories")),
        referenced_paths=paths(refs.get("referencedPaths")),
    )
