"""Storage profiles as a queue sees them, and the path-mapping rules a session's worker gets.

- A queue shows a storage profile without the SHARED locations it does not require: the submitter
  then uploads files there as job attachments instead of assuming the workers see them.
- `jobDetails.pathMappingRules`: for each location the queue requires that both the job's storage
  profile and the fleet's name, the job's path maps to the fleet's. A manifest tagged with a LOCAL
  location has a `rootPath` deeper than the location (the common path of its files), and the AWS
  worker agent looks manifests up by exact equality with a rule's source, so each such root under a
  mapped location gets a rule of its own, its prefix substituted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Any

__all__ = ["path_mapping_rules", "profile_for_queue"]


def profile_for_queue(profile: Mapping[str, Any], required_names: Iterable[str]) -> dict[str, Any]:
    """GetStorageProfileForQueue: the profile less the SHARED locations the queue does not require."""
    required = set(required_names)
    view = dict(profile)
    view["fileSystemLocations"] = [
        location
        for location in profile.get("fileSystemLocations") or []
        if location.get("type") != "SHARED" or location["name"] in required
    ]
    return view


def _flavour(os_family: str | None) -> type[PurePath]:
    return PureWindowsPath if os_family == "WINDOWS" else PurePosixPath


def _format(os_family: str | None) -> str:
    return "windows" if os_family == "WINDOWS" else "posix"


def path_mapping_rules(
    job_profile: Mapping[str, Any] | None,
    fleet_profile: Mapping[str, Any] | None,
    required_names: Sequence[str],
    manifests: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, str]]:
    """The rules for a session of a job on a fleet; none without both storage profiles."""
    if job_profile is None or fleet_profile is None:
        return []
    source_family, destination_family = job_profile.get("osFamily"), fleet_profile.get("osFamily")
    sources = {loc["name"]: loc for loc in job_profile.get("fileSystemLocations") or []}
    destinations = {loc["name"]: loc for loc in fleet_profile.get("fileSystemLocations") or []}
    mapped = {
        name: (sources[name], destinations[name])
        for name in required_names
        if name in sources and name in destinations
    }
    rules = [
        {
            "sourcePathFormat": _format(source_family),
            "sourcePath": source["path"],
            "destinationPath": destination["path"],
        }
        for source, destination in mapped.values()
    ]
    for manifest in manifests:
        name = manifest.get("fileSystemLocationName")
        if name not in mapped or mapped[name][0].get("type") != "LOCAL":
            continue
        source, destination = mapped[name]
        root_flavour = PureWindowsPath if manifest.get("rootPathFormat") == "windows" else PurePosixPath
        root, location = root_flavour(manifest["rootPath"]), root_flavour(source["path"])
        if not root.is_relative_to(location) or manifest["rootPath"] == source["path"]:
            continue
        target = _flavour(destination_family)(destination["path"]).joinpath(*root.relative_to(location).parts)
        rules.append(
            {
                "sourcePathFormat": manifest.get("rootPathFormat") or _format(source_family),
                "sourcePath": manifest["rootPath"],
                "destinationPath": str(target),
            }
        )
    return rules
