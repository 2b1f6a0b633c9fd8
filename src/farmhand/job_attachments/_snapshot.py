"""Manifests of files on disk: stat, reuse cached hashes, hash the rest in parallel.

Paths in a manifest are relative to its root with POSIX separators, mtimes in microseconds, as
the AWS tools write them. Symbolic links are not followed: a link is not part of a snapshot, so
nothing outside the tree is ever read or uploaded through one.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._hash_cache import HashCache
from ._hashing import FileDigest, hash_files
from ._manifest import Manifest, ManifestEntry, check_relative_path
from ._progress import ProgressTracker

__all__ = ["FileStat", "list_files", "relative_posix", "snapshot", "stat_files"]

log = logging.getLogger("farmhand.job_attachments")
HASH_WORKERS = 8


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int


def list_files(directory: str) -> list[str]:
    """Every regular file under `directory` (symlinks are neither followed nor listed)."""
    found: list[str] = []
    pending = [directory]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_symlink():
                log.warning("skipping symbolic link %s", entry.path)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                found.append(entry.path)
    found.sort()
    return found


def stat_files(paths: Iterable[str]) -> list[FileStat]:
    """lstat of each path; missing files, directories and symlinks are left out (with a warning)."""
    stats: list[FileStat] = []
    for path in paths:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            log.warning("skipping %s: it does not exist", path)
            continue
        if stat.S_ISLNK(info.st_mode):
            log.warning("skipping symbolic link %s", path)
            continue
        if not stat.S_ISREG(info.st_mode):
            log.warning("skipping %s: not a regular file", path)
            continue
        stats.append(FileStat(path, info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns))
    return stats


def relative_posix(path: str, root: str) -> str:
    prefix = root if root.endswith(os.sep) else root + os.sep
    relative = path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, root)
    if os.sep != "/":
        relative = relative.replace(os.sep, "/")
    return check_relative_path(relative)


def snapshot(
    root: str,
    files: Sequence[FileStat],
    *,
    hash_cache: HashCache | None = None,
    tracker: ProgressTracker | None = None,
    workers: int = HASH_WORKERS,
) -> tuple[Manifest, list[FileDigest]]:
    """The manifest of `files` (already stat-ed) relative to `root`, and a digest of every file
    (`from_cache` for those whose hash the cache had), in the order of `files`.

    Cached hashes are used when (path, size, mtime, inode, ctime) still match; the rest are read.
    A file that changed since it was stat-ed is described as it was when hashed.
    """
    keys = [(f.path, f.size, f.mtime_ns, f.inode, f.ctime_ns) for f in files]
    cached = hash_cache.lookup(keys) if hash_cache else {}
    results: dict[str, FileDigest] = {}
    todo: list[FileStat] = []
    for item in files:
        known = cached.get(item.path)
        if known is None:
            todo.append(item)
            continue
        results[item.path] = FileDigest(
            item.path, known, item.size, item.mtime_ns, item.inode, item.ctime_ns, 0, from_cache=True
        )
        if tracker is not None:
            tracker.file_done(item.size, skipped=True)

    def done(digest: FileDigest) -> None:
        if tracker is not None:
            tracker.file_done(digest.size)

    check = tracker.check if tracker is not None else None
    fresh = hash_files([f.path for f in todo], workers=workers, on_done=done, before=check)
    for digest in fresh:
        results[digest.path] = digest
    if hash_cache is not None and fresh:
        hash_cache.store(fresh)
    ordered = [results[f.path] for f in files]
    entries = [
        ManifestEntry(relative_posix(d.path, root), d.hash, d.size, d.mtime_ns // 1000) for d in ordered
    ]
    return Manifest(entries), ordered
