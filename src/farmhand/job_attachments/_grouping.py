"""Grouping a job's paths into asset roots, with the submitter's storage profile (spec §4).

* Paths under a SHARED location of the profile are left out: the workers see them directly.
* Paths under a LOCAL location form one group per (most specific) location, tagged with its name.
* Every other path joins the group of its top-level directory (`/`, or the drive on Windows).
A group's root is the common path of all its inputs, outputs and references (the parent when that
is a file), as the AWS client computes it; groups are ordered by root.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AssetRootGroup", "group_asset_paths", "is_under", "root_path_format"]


def root_path_format() -> str:
    """`rootPathFormat` of paths from this host."""
    return "windows" if platform.system() == "Windows" else "posix"


def is_under(path: str, directory: str) -> bool:
    """True when `path` is `directory` or below it (normalised absolute paths; no symlinks resolved)."""
    if path == directory:
        return True
    prefix = directory if directory.endswith(os.sep) else directory + os.sep
    return path.startswith(prefix)


def _absolute(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


@dataclass
class AssetRootGroup:
    """The paths of one asset root."""

    root_path: str = ""
    file_system_location_name: str | None = None
    inputs: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)

    def output_relative_directories(self) -> list[str]:
        return sorted(os.path.relpath(output, self.root_path) for output in self.outputs)


def group_asset_paths(
    inputs: Iterable[str],
    outputs: Iterable[str],
    references: Iterable[str],
    storage_profile: Mapping[str, Any] | None = None,
) -> list[AssetRootGroup]:
    """The asset-root groups of these absolute-or-relative input files, output dirs and references."""
    locations = list((storage_profile or {}).get("fileSystemLocations") or [])
    shared = [_absolute(loc["path"]) for loc in locations if loc.get("type") == "SHARED"]
    local = {_absolute(loc["path"]): str(loc["name"]) for loc in locations if loc.get("type") == "LOCAL"}
    groups: dict[str, AssetRootGroup] = {}

    def group_for(path: str) -> AssetRootGroup | None:
        if shared and any(is_under(path, location) for location in shared):
            return None
        matched = [location for location in local if is_under(path, location)] if local else []
        if matched:
            location = max(matched, key=len)
            key, name = location, local[location]
        else:
            drive = os.path.splitdrive(path)[0]
            key, name = os.path.normcase(drive + os.sep), None  # the top level: `/`, or the drive
        if key not in groups:
            groups[key] = AssetRootGroup(file_system_location_name=name)
        return groups[key]

    for kind, paths in (("inputs", inputs), ("outputs", outputs), ("references", references)):
        for raw in paths:
            if not raw:
                continue
            path = _absolute(raw)
            group = group_for(path)
            if group is not None:
                getattr(group, kind).add(path)
    for group in groups.values():
        # With a separator after each, the strings between the smallest and the largest share their
        # common prefix, so those two alone give the common path of all (no split of every path).
        ended = [member + os.sep for member in group.inputs | group.outputs | group.references]
        common = os.path.commonpath([min(ended), max(ended)])
        if os.path.isfile(common):
            common = os.path.dirname(common)
        group.root_path = common
    return sorted(groups.values(), key=lambda g: (g.root_path, g.file_system_location_name or ""))
