"""Finding a job's output manifests, as the AWS tools find them, and merging them per root.

Readers list `Manifests/<farm>/<queue>/<job>[/<step>[/<task>]]/`, keep keys that look like
`step-.../.../..._output`, and for each task only its latest task-run folder (the folder names
start with the run's start time); chunked steps (no task folder) keep every folder. The root of an
output manifest is in its metadata (`asset-root-json`, else `asset-root`). Manifests of one root
are merged oldest to newest by LastModified: a later task run's file wins.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ._errors import ManifestError
from ._manifest import Manifest, ManifestEntry
from ._storage import ObjectStorage, StoredObject

__all__ = ["OutputManifest", "fetch_output_manifests", "merge_by_root", "select_output_manifest_keys"]

_OUTPUT_KEY = re.compile(r"step-.*/.*/.*output.*")


@dataclass(frozen=True)
class OutputManifest:
    key: str
    root_path: str
    location_name: str | None
    last_modified: dt.datetime
    manifest: Manifest


def select_output_manifest_keys(objects: Sequence[StoredObject], job_prefix: str) -> list[StoredObject]:
    """The manifests a download uses: every chunked-step one, and each task's latest."""
    latest: dict[tuple[str, str], str] = {}
    chosen: list[StoredObject] = []
    candidates: list[tuple[StoredObject, list[str]]] = []
    for item in objects:
        relative = item.key[len(job_prefix) :] if item.key.startswith(job_prefix) else item.key
        if not _OUTPUT_KEY.search(item.key):
            continue
        parts = relative.split("/")
        candidates.append((item, parts))
        if len(parts) >= 4 and parts[1].startswith("task-"):
            task = (parts[0], parts[1])
            if parts[2] > latest.get(task, ""):
                latest[task] = parts[2]
    for item, parts in candidates:
        if len(parts) >= 4 and parts[1].startswith("task-"):
            if latest[(parts[0], parts[1])] == parts[2]:
                chosen.append(item)
        else:
            chosen.append(item)
    return chosen


def _root_of(metadata: dict[str, str], key: str) -> str:
    if "asset-root-json" in metadata:
        return str(json.loads(metadata["asset-root-json"]))
    if "asset-root" in metadata:
        return metadata["asset-root"]
    raise ManifestError(f"output manifest {key} has no asset-root metadata")


def fetch_output_manifests(storage: ObjectStorage, keys: Sequence[str]) -> list[OutputManifest]:
    """GetObject of each output manifest (in parallel), with the root its metadata names."""

    def fetch(key: str) -> OutputManifest:
        data, metadata, modified = storage.get_bytes(key)
        lowered = {k.lower(): v for k, v in metadata.items()}
        return OutputManifest(
            key,
            _root_of(lowered, key),
            lowered.get("file-system-location-name") or None,
            modified,
            Manifest.decode(data, name=f"output manifest {key}"),
        )

    if len(keys) <= 1:
        return [fetch(key) for key in keys]
    with ThreadPoolExecutor(max_workers=10, thread_name_prefix="ja-manifest") as pool:
        return list(pool.map(fetch, keys))


def merge_by_root(manifests: Sequence[OutputManifest]) -> dict[str, Manifest]:
    """One manifest per root: older first, later paths replace earlier ones."""
    merged: dict[str, dict[str, ManifestEntry]] = {}
    for item in sorted(manifests, key=lambda m: m.last_modified):
        files = merged.setdefault(item.root_path, {})
        for entry in item.manifest:
            files[entry.path] = entry
    return {root: Manifest(files.values()) for root, files in merged.items()}
