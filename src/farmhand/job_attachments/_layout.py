"""Where job attachments live in a queue's bucket: the AWS Deadline Cloud key layout.

* `<rootPrefix>/Data/<xxh128>.xxh128`: file contents, by hash (shared by every job of the queue);
* `<rootPrefix>/Manifests/<farm>/<queue>/Inputs/<guid>/<xxh128(rootPath)>_input`: input manifests;
  jobs store the part after `<rootPrefix>/Manifests/` as `inputManifestPath`;
* `<rootPrefix>/Manifests/<farm>/<queue>/<job>/<step>/<task>/<time>_<sessionAction>/<xxh128(location
  name + rootPath)>_output`: a task run's output manifest (no task folder for a chunked step), with
  the root in the object metadata `asset-root` (and `asset-root-json` when it is not ASCII).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._manifest import xxh128_hex

__all__ = [
    "StorageSettings",
    "input_manifest_path",
    "output_manifest_metadata",
    "output_manifest_prefix",
    "output_manifest_root",
    "session_root_directory_name",
]

DATA_FOLDER = "Data"
MANIFEST_FOLDER = "Manifests"
HASH_EXTENSION = "xxh128"
JOB_BUNDLE_FOLDER = "job-bundles"


@dataclass(frozen=True)
class StorageSettings:
    """A queue's `jobAttachmentSettings`: the bucket and the prefix everything lives under."""

    bucket: str
    root_prefix: str

    @classmethod
    def from_queue(cls, queue: Mapping[str, Any]) -> StorageSettings | None:
        settings = queue.get("jobAttachmentSettings")
        if not settings:
            return None
        return cls(str(settings["s3BucketName"]), str(settings["rootPrefix"]))

    def data_key(self, digest: str) -> str:
        return f"{self.root_prefix}/{DATA_FOLDER}/{digest}.{HASH_EXTENSION}"

    def legacy_data_key(self, digest: str) -> str:
        """Objects written by early clients carry no extension; readers fall back to this key."""
        return f"{self.root_prefix}/{DATA_FOLDER}/{digest}"

    def digest_of(self, key: str) -> str | None:
        """The hash a data key names (None for any other key)."""
        prefix = f"{self.root_prefix}/{DATA_FOLDER}/"
        suffix = f".{HASH_EXTENSION}"
        if key.startswith(prefix) and key.endswith(suffix):
            return key[len(prefix) : -len(suffix)]
        return None

    @property
    def manifest_prefix(self) -> str:
        return f"{self.root_prefix}/{MANIFEST_FOLDER}/"

    def manifest_key(self, partial_path: str) -> str:
        """The key of a manifest from the path a job stores (`inputManifestPath`, `outputManifestPath`)."""
        return self.manifest_prefix + partial_path

    def job_bundle_key(self, name: str) -> str:
        return f"{self.root_prefix}/{JOB_BUNDLE_FOLDER}/{name}.ojd"

    def job_output_prefix(
        self, farm_id: str, queue_id: str, job_id: str, step_id: str | None = None, task_id: str | None = None
    ) -> str:
        parts = [farm_id, queue_id, job_id]
        if step_id:
            parts.append(step_id)
            if task_id:
                parts.append(task_id)
        return self.manifest_prefix + "/".join(parts) + "/"


def input_manifest_path(farm_id: str, queue_id: str, root_path: str, guid: str | None = None) -> str:
    """`inputManifestPath` for a new input manifest of `root_path` (a fresh guid folder each time)."""
    folder = guid or uuid.uuid4().hex
    return f"{farm_id}/{queue_id}/Inputs/{folder}/{xxh128_hex(root_path)}_input"


def output_manifest_prefix(
    farm_id: str,
    queue_id: str,
    job_id: str,
    step_id: str,
    task_id: str | None,
    started_at: dt.datetime,
    session_action_id: str,
) -> str:
    """The folder (below `Manifests/`) of one task run's output manifests."""
    stamp = started_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parts = [farm_id, queue_id, job_id, step_id]
    if task_id:
        parts.append(task_id)
    parts.append(f"{stamp}_{session_action_id}")
    return "/".join(parts)


def output_manifest_root(root_path: str, location_name: str | None) -> str:
    """The file name of an output manifest within its task-run folder."""
    return f"{xxh128_hex((location_name or '') + root_path)}_output"


def output_manifest_metadata(root_path: str, location_name: str | None) -> dict[str, str]:
    """Object metadata readers find the output's root in (`asset-root`, JSON form if not ASCII)."""
    if root_path.isascii():
        metadata = {"asset-root": root_path}
    else:
        encoded = json.dumps(root_path, ensure_ascii=True)
        metadata = {"asset-root": encoded, "asset-root-json": encoded}
    if location_name:
        metadata["file-system-location-name"] = location_name
    return metadata


def session_root_directory_name(root_path: str) -> str:
    """`assetroot-<shake256 of the root, 10 bytes>`: where a root without a mapping lands in a session."""
    return "assetroot-" + hashlib.shake_256(root_path.encode("utf-8")).hexdigest(10)
