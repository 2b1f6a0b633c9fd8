"""Manifest files on disk: snapshot a directory, compare it with a manifest, name them as the AWS CLI does.

A snapshot file is `<name>-<xxh128 of the root as given>-<UTC time>.manifest`; the hash in the
name is how `attachment upload` pairs a manifest with its root directory.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ...job_attachments import (
    HashCache,
    Manifest,
    default_cache_dir,
    list_files,
    relative_posix,
    snapshot,
    stat_files,
    xxh128_hex,
)

__all__ = ["ManifestDiff", "diff_directory", "read_manifest", "snapshot_directory"]


def _selected(root: str, includes: tuple[str, ...], excludes: tuple[str, ...]) -> list[str]:
    chosen = []
    for path in list_files(root):
        relative = relative_posix(path, root)
        if includes and not any(fnmatch.fnmatch(relative, pattern) for pattern in includes):
            continue
        if any(fnmatch.fnmatch(relative, pattern) for pattern in excludes):
            continue
        chosen.append(path)
    return chosen


def read_manifest(path: str) -> Manifest:
    return Manifest.decode(Path(path).read_bytes(), name=path)


@dataclass
class ManifestDiff:
    new: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def diff_directory(
    root: str,
    manifest: Manifest,
    *,
    includes: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
    force_rehash: bool = False,
) -> ManifestDiff:
    """New, modified (size or mtime, or content with `force_rehash`) and deleted files of `root`."""
    absolute = os.path.abspath(root)
    files = stat_files(_selected(absolute, includes, excludes))
    diff = ManifestDiff()
    present: set[str] = set()
    suspects = []
    for item in files:
        relative = relative_posix(item.path, absolute)
        present.add(relative)
        known = manifest.get(relative)
        if known is None:
            diff.new.append(relative)
        elif known.size != item.size or known.mtime != item.mtime_ns // 1000:
            diff.modified.append(relative)
        elif force_rehash:
            suspects.append(item)
    if suspects:
        rehashed, _ = snapshot(absolute, suspects)
        for entry in rehashed:
            known = manifest.get(entry.path)
            if known is not None and known.hash != entry.hash:
                diff.modified.append(entry.path)
    diff.deleted = sorted(e.path for e in manifest if e.path not in present)
    diff.new.sort()
    diff.modified.sort()
    return diff


def snapshot_directory(
    root: str,
    destination: str | None = None,
    *,
    name: str | None = None,
    includes: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
    force_rehash: bool = False,
    against: Manifest | None = None,
) -> tuple[str | None, Manifest | None]:
    """Write the manifest of `root` (only what differs from `against`, if given); its path and content.

    Nothing is written (None) when no file qualifies.
    """
    absolute = os.path.abspath(root)
    paths = _selected(absolute, includes, excludes)
    if against is not None:
        diff = diff_directory(
            absolute, against, includes=includes, excludes=excludes, force_rehash=force_rehash
        )
        wanted = {*diff.new, *diff.modified}
        paths = [p for p in paths if relative_posix(p, absolute) in wanted]
    if not paths:
        return None, None
    cache = None if force_rehash else HashCache(default_cache_dir())
    manifest, _ = snapshot(absolute, stat_files(paths), hash_cache=cache)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%S")
    base = name or root.strip("/").replace("/", "_").replace("\\", "_") or "root"
    directory = destination or absolute
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, f"{base}-{xxh128_hex(root)}-{stamp}.manifest")
    Path(target).write_bytes(manifest.encode())
    return target, manifest
