"""Path mapping between two storage profiles: where a path of the submitting host is on this one.

One rule per file-system location name that both profiles have (none between a profile and itself);
a path maps by the rule with the longest matching source prefix, compared by path components
(case-insensitively for Windows sources). Used for `job download-output` and `queue sync-output`
when the job was submitted from a host with another profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Any

__all__ = ["PathMappingRule", "map_path", "rules_between"]


@dataclass(frozen=True)
class PathMappingRule:
    source_path_format: str  # "windows" or "posix"
    source_path: str
    destination_path: str

    def as_api(self) -> dict[str, str]:
        return {
            "sourcePathFormat": self.source_path_format,
            "sourcePath": self.source_path,
            "destinationPath": self.destination_path,
        }


def _flavour(path_format: str) -> type[PurePath]:
    return PureWindowsPath if path_format == "windows" else PurePosixPath


def rules_between(
    source: Mapping[str, Any] | None, destination: Mapping[str, Any] | None
) -> list[PathMappingRule]:
    if not source or not destination:
        return []
    if source.get("storageProfileId") and source.get("storageProfileId") == destination.get(
        "storageProfileId"
    ):
        return []
    path_format = "windows" if str(source.get("osFamily", "")).upper() == "WINDOWS" else "posix"
    targets = {loc["name"]: loc["path"] for loc in destination.get("fileSystemLocations") or []}
    return [
        PathMappingRule(path_format, loc["path"], targets[loc["name"]])
        for loc in source.get("fileSystemLocations") or []
        if loc["name"] in targets
    ]


def _parts(path: PurePath, windows: bool) -> tuple[str, ...]:
    return tuple(p.lower() for p in path.parts) if windows else path.parts


def map_path(rules: Sequence[PathMappingRule], path: str, path_format: str) -> str | None:
    """`path` (in `path_format`) on this host by the most specific rule; None when none applies."""
    flavour = _flavour(path_format)
    windows = path_format == "windows"
    source = flavour(path)
    parts = _parts(source, windows)
    best: tuple[int, PathMappingRule] | None = None
    for rule in rules:
        if rule.source_path_format != path_format:
            continue
        prefix = _parts(flavour(rule.source_path), windows)
        if parts[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
            best = (len(prefix), rule)
    if best is None:
        return None
    remainder = source.parts[best[0] :]
    return str(PurePath(best[1].destination_path).joinpath(*remainder))
