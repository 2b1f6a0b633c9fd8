"""Hashing files with xxh3-128: large reads, a consistency check, many files at once.

A file is read through one descriptor in 8 MiB `readinto` chunks (an 8 KiB loop, as the AWS
library uses, costs about three times as much on a 2 GiB file). Its size and mtime are taken from
that descriptor before and after the read; a file that changed meanwhile is read again, and one
that keeps changing is refused (FileChangedError), so a manifest never pairs one version's hash
with another's size.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import xxhash

from ._errors import FileChangedError

__all__ = ["READ_BYTES", "FileDigest", "hash_file", "hash_files"]

READ_BYTES = 8 * 1024 * 1024
HASH_ATTEMPTS = 3
_SMALL_READ = 256 * 1024
OVERLAP_BYTES = 64 * 1024 * 1024
OVERLAP_CHUNK = 4 * 1024 * 1024
OVERLAP_BUFFERS = 3


@dataclass(frozen=True, slots=True)
class FileDigest:
    """A file's content hash with the stat it was taken under (what the hash cache keys on)."""

    path: str
    hash: str
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int
    hashed_at_ns: int  # wall clock when the read began: entries newer than that are not cached
    from_cache: bool = False  # the hash came from the hash cache, not from reading the file


def hash_file(path: str, *, on_bytes: Callable[[int], None] | None = None) -> FileDigest:
    """Hash one regular file (a symlink at `path` itself is refused: ELOOP)."""
    for _attempt in range(HASH_ATTEMPTS):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise IsADirectoryError(f"{path} is not a regular file")
            started = time.time_ns()
            digest, read = _hash_fd(fd, before.st_size, on_bytes)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if unchanged and read == after.st_size:
            return FileDigest(
                path, digest, after.st_size, after.st_mtime_ns, after.st_ino, after.st_ctime_ns, started
            )
    raise FileChangedError(f"{path} kept changing while it was hashed ({HASH_ATTEMPTS} attempts)")


def _hash_fd(fd: int, size: int, on_bytes: Callable[[int], None] | None) -> tuple[str, int]:
    hasher = xxhash.xxh3_128()
    if size <= _SMALL_READ:
        # One read of size + 1 bytes: a file that grew or shrank shows in the count or the fstat after.
        data = os.read(fd, size + 1)
        hasher.update(data)
        if on_bytes is not None:
            on_bytes(len(data))
        return str(hasher.hexdigest()), len(data)
    if size >= OVERLAP_BYTES:
        return _hash_overlapped(fd, size, hasher, on_bytes)
    # Never read past size + 1: a file that keeps growing is detected, not followed forever.
    buffer = bytearray(min(READ_BYTES, size + 1))
    view = memoryview(buffer)
    total = 0
    while total <= size:
        wanted = min(len(buffer), size + 1 - total)
        count = os.readv(fd, [view[:wanted]])
        if count <= 0:
            break
        hasher.update(view[:count])
        total += count
        if on_bytes is not None:
            on_bytes(count)
    return str(hasher.hexdigest()), total


def _hash_overlapped(
    fd: int, size: int, hasher: Any, on_bytes: Callable[[int], None] | None
) -> tuple[str, int]:
    """Large files: a reader thread fills the next buffer (the copy from the page cache runs without
    the GIL) while this thread hashes the previous one, so hashing costs little beyond the read."""
    free: queue.Queue[bytearray] = queue.Queue()
    full: queue.Queue[tuple[bytearray, int] | BaseException] = queue.Queue()
    for _ in range(OVERLAP_BUFFERS):
        free.put(bytearray(OVERLAP_CHUNK))
    stop = threading.Event()

    def read() -> None:
        total = 0
        try:
            while not stop.is_set():
                buffer = free.get()
                wanted = min(len(buffer), size + 1 - total)
                count = os.readv(fd, [memoryview(buffer)[:wanted]]) if wanted > 0 else 0
                total += count
                full.put((buffer, count))
                if count <= 0:
                    return
        except BaseException as error:
            full.put(error)

    reader = threading.Thread(target=read, name="ja-hash-read", daemon=True)
    reader.start()
    total = 0
    try:
        while True:
            item = full.get()
            if isinstance(item, BaseException):
                raise item
            buffer, count = item
            if count <= 0:
                break
            hasher.update(memoryview(buffer)[:count])
            total += count
            free.put(buffer)
            if on_bytes is not None:
                on_bytes(count)
    finally:
        stop.set()
        free.put(bytearray(0))  # wakes the reader if it waits for a buffer
        reader.join()
    return str(hasher.hexdigest()), total


def hash_files(
    paths: Iterable[str],
    *,
    workers: int = 8,
    on_done: Callable[[FileDigest], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    before: Callable[[], None] | None = None,
) -> list[FileDigest]:
    """Hash files in parallel threads (xxhash and reads release the GIL); results in input order."""
    todo = list(paths)
    if not todo:
        return []

    def one(path: str) -> FileDigest:
        if before is not None:
            before()  # e.g. raises once the operation was canceled: the queued files are skipped
        digest = hash_file(path, on_bytes=on_bytes)
        if on_done is not None:
            on_done(digest)
        return digest

    if len(todo) == 1 or workers <= 1:
        return [one(path) for path in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix="ja-hash") as pool:
        return list(pool.map(one, todo))
