"""CreateJob `attachments`: what the model allows, and that every input manifest really is there.

A manifest given by `inputManifestPath` must exist under the queue's `<rootPrefix>/Manifests/` and
its xxh128 must equal `inputManifestHash`: a worker would otherwise fail every session of the job
(or sync files that are not the ones the submitter hashed). Paths inside the attachments must stay
inside their roots: outputs are written back under `rootPath` by `job download-output`, and a
manifest that is not a valid v2023-03-03 manifest, or lists a path leaving its root (`..`, an
absolute path), is refused here rather than failing every session that syncs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...job_attachments import Manifest as AssetManifest
from ...job_attachments import ManifestError, xxh128_hex
from ..buckets import BucketStoreError, BucketStores, NoStoreError, ObjectTooLargeError
from ..protocol import InternalServerError, ValidationError

__all__ = ["check_attachments"]

_XXH128 = re.compile(r"[0-9a-fA-F]{32}")
# Manifests up to this size are read and validated whole (100,000 files make about 10 MiB); larger
# ones are only hashed, and the workers still validate every path before they write anything.
MANIFEST_VALIDATION_BYTES = 64 * 1024 * 1024


def _bad(field: str, problem: str) -> ValidationError:
    return ValidationError.for_field(field, problem)


def _check_manifest_path(field: str, path: str) -> None:
    segments = path.split("/")
    if "\x00" in path or "\\" in path or any(s in ("", ".", "..") for s in segments):
        raise _bad(
            field, "must be a relative key below <rootPrefix>/Manifests/ without empty, '.' or '..' parts"
        )


def _check_output_directory(field: str, directory: str) -> None:
    if "\x00" in directory or directory.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", directory):
        raise _bad(field, "must be relative to the manifest's rootPath")
    if ".." in re.split(r"[\\/]", directory):
        raise _bad(field, "must not leave the manifest's rootPath ('..')")


def check_attachments(
    attachments: Mapping[str, Any],
    queue: Mapping[str, Any],
    storage_profile: Mapping[str, Any] | None,
    buckets: BucketStores,
) -> None:
    """Raise ValidationException naming the first manifest (and member) that is wrong."""
    settings = queue.get("jobAttachmentSettings")
    if not settings:
        raise _bad("attachments", f"queue {queue['queueId']} has no jobAttachmentSettings to hold them")
    bucket, root_prefix = settings["s3BucketName"], settings["rootPrefix"]
    locations = {loc["name"] for loc in (storage_profile or {}).get("fileSystemLocations") or []}
    for index, manifest in enumerate(attachments["manifests"]):
        where = f"attachments.manifests[{index}]"
        if "\x00" in manifest["rootPath"]:
            raise _bad(f"{where}.rootPath", "must not contain NUL")
        location = manifest.get("fileSystemLocationName")
        if location and storage_profile is not None and location not in locations:
            raise _bad(
                f"{where}.fileSystemLocationName",
                f"{location!r} is not a location of the job's storage profile",
            )
        for position, directory in enumerate(manifest.get("outputRelativeDirectories") or []):
            _check_output_directory(f"{where}.outputRelativeDirectories[{position}]", directory)
        path, expected = manifest.get("inputManifestPath"), manifest.get("inputManifestHash")
        if path is None and expected is None:
            continue  # a root with outputs only
        if path is None or expected is None:
            missing = "inputManifestPath" if path is None else "inputManifestHash"
            raise _bad(
                f"{where}.{missing}", "is required with the other of inputManifestPath/inputManifestHash"
            )
        _check_manifest_path(f"{where}.inputManifestPath", path)
        if not _XXH128.fullmatch(expected):
            raise _bad(f"{where}.inputManifestHash", "must be the manifest's xxh128 (32 hexadecimal digits)")
        key = f"{root_prefix}/Manifests/{path}"
        try:
            store = buckets.store_for(bucket)
            try:
                data = store.read_object(bucket, key, MANIFEST_VALIDATION_BYTES)
                actual = None if data is None else xxh128_hex(data)
            except ObjectTooLargeError:
                data, actual = None, store.xxh128_of(bucket, key)
        except NoStoreError as exc:
            raise _bad("attachments", str(exc)) from exc
        except BucketStoreError as exc:
            raise InternalServerError(f"The input manifest of {where} could not be read: {exc}") from exc
        if actual is None:
            raise _bad(f"{where}.inputManifestPath", f"s3://{bucket}/{key} does not exist")
        if actual.lower() != expected.lower():
            raise _bad(
                f"{where}.inputManifestHash",
                f"{expected} is not the xxh128 of s3://{bucket}/{key} ({actual})",
            )
        if data is not None:
            try:
                AssetManifest.decode(data, name=f"s3://{bucket}/{key}")
            except ManifestError as exc:
                raise _bad(f"{where}.inputManifestPath", str(exc)) from exc
