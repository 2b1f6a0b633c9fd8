"""Job attachments in a submission: which paths are known, the confirmation, hashing and upload.

The paths a bundle reads (input files and directories), writes (output directories) and mentions
(referenced paths) become asset roots (grouped with the workstation's storage profile); their input
files are hashed (hash cache in `~/.deadline/cache`), uploaded with the queue role's credentials
(skipping what the bucket has), and described to CreateJob as `attachments`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...job_attachments import (
    AssetRootGroup,
    FileStat,
    HashCache,
    ObjectStorage,
    ProgressCallback,
    S3CheckCache,
    StorageSettings,
    default_cache_dir,
    group_asset_paths,
    hash_roots,
    human_readable_size,
    is_under,
    list_files,
    snapshot_roots,
    upload_roots,
)
from ..config import get_setting
from ..exceptions import DeadlineOperationCanceled, MisconfiguredInputsError, UserInitiatedCancel
from ..job_bundle import AssetReferences

__all__ = [
    "AttachmentPaths",
    "attachment_groups",
    "collect_attachment_paths",
    "confirm_transfers",
    "known_paths",
    "submit_attachments",
]

PRINTED_PATHS = 4


@dataclass
class AttachmentPaths:
    inputs: set[str]
    outputs: set[str]
    references: set[str]


def collect_attachment_paths(
    references: AssetReferences, require_paths_exist: bool, print_function: Callable[..., Any]
) -> AttachmentPaths:
    """Input directories walked into files; missing inputs refused or kept as references (spec 3.7)."""
    misfiled = sorted(p for p in references.input_filenames if os.path.isdir(p))
    if misfiled:
        raise MisconfiguredInputsError(
            "Job submission contains missing input files or directories specified as files. "
            "All inputs must exist and be classified properly.\nDirectories classified as files:\n"
            + "\n".join(misfiled)
        )
    missing_directories = sorted(p for p in references.input_directories if not os.path.isdir(p))
    if require_paths_exist and missing_directories:
        raise MisconfiguredInputsError(
            "Job submission contains misconfigured input directories. Non-existent directories:\n"
            + "\n".join(missing_directories)
        )
    missing_files = sorted(p for p in references.input_filenames if not os.path.lexists(p))
    if require_paths_exist and missing_files:
        raise MisconfiguredInputsError(
            "Job submission contains missing input files or directories specified as files. "
            "All inputs must exist and be classified properly.\nMissing input files:\n"
            + "\n".join(missing_files)
        )
    paths = AttachmentPaths(
        {p for p in references.input_filenames if p not in missing_files},
        set(references.output_directories),
        set(references.referenced_paths),
    )
    for path in [*missing_files, *missing_directories]:
        print_function(f"Warning: input path {path} does not exist; it is submitted as a referenced path.")
        paths.references.add(path)
    for directory in references.input_directories:
        if directory in missing_directories:
            continue
        files = list_files(directory)
        if files:
            paths.inputs.update(files)
        else:
            paths.references.add(directory)
    return paths


def known_paths(
    caller_paths: Iterable[str],
    bundle_dir: Path,
    storage_profile: Mapping[str, Any] | None,
    config: ConfigParser | None,
    caller_parameters: Sequence[Mapping[str, Any]],
    merged: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Paths the user vouched for: no confirmation is asked for transfers under them (spec 3.4 #10)."""
    candidates = [*caller_paths, os.path.abspath(bundle_dir)]
    for location in (storage_profile or {}).get("fileSystemLocations") or []:
        if location.get("type") == "LOCAL":
            candidates.append(str(location["path"]))
    setting = get_setting("settings.known_asset_paths", config)
    candidates += [p for p in setting.split(os.pathsep) if p]
    named = {p["name"] for p in caller_parameters}
    for entry in merged:
        if entry.get("name") not in named or entry.get("value") in (None, ""):
            continue
        values = entry["value"] if entry.get("type") == "LIST[PATH]" else [entry["value"]]
        if entry.get("type") not in ("PATH", "LIST[PATH]"):
            continue
        for value in values:
            value = str(value)
            candidates.append(os.path.dirname(value) if entry.get("objectType") == "FILE" else value)
    normalised = sorted(
        {os.path.normpath(os.path.expanduser(p)) for p in candidates if os.path.isabs(os.path.expanduser(p))}
    )
    reduced: list[str] = []
    for path in normalised:
        if not any(is_under(path, kept) for kept in reduced):
            reduced.append(path)
    return reduced


def _listing(paths: Sequence[str], profile_labels: Mapping[str, str]) -> list[str]:
    lines = []
    for path in paths[: PRINTED_PATHS + 1 if len(paths) == PRINTED_PATHS + 1 else PRINTED_PATHS]:
        label = next(
            (f"[{name}] " for location, name in profile_labels.items() if is_under(path, location)), ""
        )
        lines.append(f"    {label}{path}")
    if len(paths) > PRINTED_PATHS + 1:
        lines.append(f"    ... and {len(paths) - PRINTED_PATHS} more")
    return lines


def _directories(
    groups: Sequence[AssetRootGroup], stats: Mapping[str, Sequence[FileStat]]
) -> tuple[list[str], list[str], int, int]:
    """Input directories (nested ones collapsed), outputs, and the number and size of input files."""
    parents = sorted(
        {os.path.dirname(path) for group in groups for path in group.inputs}, key=lambda p: p.split(os.sep)
    )
    collapsed: list[str] = []
    for parent in parents:  # sorted by components: a directory comes right before what is below it
        if not (collapsed and is_under(parent, collapsed[-1])):
            collapsed.append(parent)
    outputs = sorted(path for group in groups for path in group.outputs)
    files = [item for group in groups for item in stats.get(group.root_path, ())]
    return collapsed, outputs, len(files), sum(item.size for item in files)


def confirm_transfers(
    groups: Sequence[AssetRootGroup],
    stats: Mapping[str, Sequence[FileStat]],
    known: Sequence[str],
    storage_profile: Mapping[str, Any] | None,
    config: ConfigParser | None,
    confirm: Callable[[str, bool], bool] | None,
    print_function: Callable[..., Any],
    from_gui: bool,
) -> None:
    """Ask before uploading; unknown paths need an explicit yes (spec 3.5)."""
    from ..config import str2bool

    directories, outputs, count, size = _directories(groups, stats)
    entries = [*directories, *(f"(output) {o}" for o in outputs)]
    listed = [*directories, *outputs]
    unknown = [p for p in listed if not any(is_under(p, k) for k in known)]
    labels = {
        os.path.normpath(str(loc["path"])): str((storage_profile or {}).get("displayName", ""))
        for loc in (storage_profile or {}).get("fileSystemLocations") or []
        if loc.get("type") == "LOCAL"
    }
    known_entries = [e for e, p in zip(entries, listed, strict=True) if p not in unknown]
    unknown_entries = [e for e, p in zip(entries, listed, strict=True) if p in unknown]
    lines = [
        "Approval for Job Attachment S3 transfers needed.",
        "Files from these paths are uploaded for the job, and its outputs are written back to them.",
        "",
    ]
    if known_entries:
        lines += ["Known paths:", *_listing(known_entries, labels)]
    if unknown_entries:
        lines += [
            "Unknown paths:",
            *_listing(unknown_entries, labels),
            "",
            "*" * 36,
            "*  WARNING: Unknown paths found   *",
            "*" * 36,
        ]
    plural = "y" if len(outputs) == 1 else "ies"
    lines += [
        "",
        f"Local uploads: {count} file(s) ({human_readable_size(size)}) before deduplication",
        f"Worker uploads: Files created in {len(outputs)} output director{plural}",
    ]
    message = "\n".join(lines)
    default = not unknown
    if confirm is None:
        print_function(message)
        if unknown:
            print_function("Job submission canceled (user input not enabled).")
            raise DeadlineOperationCanceled()
        return
    if str2bool(get_setting("settings.auto_accept", config)):
        if not unknown:
            print_function(message)
            return
        if from_gui:
            if not confirm(message + "\nPress OK to approve.", default):
                raise UserInitiatedCancel()
            return
        print_function(message)
        print_function("Job submission canceled (settings.auto_accept enabled and there were unknown paths).")
        raise DeadlineOperationCanceled()
    question = "\nPress OK to approve." if from_gui else "\nDo you wish to proceed?"
    if not confirm(message + question, default):
        print_function("Job submission canceled (user input).")
        raise UserInitiatedCancel()


def submit_attachments(
    *,
    session: Any,
    queue: Mapping[str, Any],
    farm_id: str,
    queue_id: str,
    groups: Sequence[AssetRootGroup],
    stats: Mapping[str, Sequence[FileStat]],
    config: ConfigParser | None,
    force_s3_check: bool,
    hashing_callback: ProgressCallback | None,
    upload_callback: ProgressCallback | None,
    print_function: Callable[..., Any],
    snapshot_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Hash and upload every group; the `attachments.manifests` CreateJob takes."""
    settings = StorageSettings.from_queue(queue)
    assert settings is not None
    cache_dir = default_cache_dir()
    hashing, roots = hash_roots(
        groups, hash_cache=HashCache(cache_dir), callback=hashing_callback, stats=stats
    )
    print_function("Hashing Summary:\n" + str(hashing))
    if snapshot_dir:
        return snapshot_roots(Path(snapshot_dir), farm_id, queue_id, roots)
    connections = max(32, int(get_setting("settings.s3_max_pool_connections", config) or 50))
    with ObjectStorage(session, settings, max_connections=min(connections, 64)) as storage:
        summary, properties = upload_roots(
            storage,
            farm_id,
            queue_id,
            roots,
            check_cache=S3CheckCache(cache_dir),
            force_check=force_s3_check,
            callback=upload_callback,
            state_dir=cache_dir / "farmhand-uploads",
        )
    print_function("Upload Summary:\n" + str(summary))
    return properties


def attachment_groups(
    paths: AttachmentPaths, storage_profile: Mapping[str, Any] | None
) -> list[AssetRootGroup]:
    return group_asset_paths(
        sorted(paths.inputs), sorted(paths.outputs), sorted(paths.references), storage_profile
    )
