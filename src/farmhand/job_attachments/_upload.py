"""Uploading file contents to a queue's bucket: skip what the store has, batch what is small.

1. Content already known to be stored (the S3 check cache, verified by a sample) is skipped.
2. The store is asked once which of the rest it lacks (a farm answers in one batch call).
3. Small files go in batches of a few MiB (one request each on a farm), medium ones one PUT each,
   in parallel; large ones as resumable multipart uploads, one after another, parts in parallel.
Every byte read for an upload is read again from the file as it is now: a small file is hashed
again on the way and a changed file is refused (FileChangedError), so no object is ever stored
under a hash that is not its content's.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import xxhash

from ._cache_db import default_cache_dir
from ._errors import FileChangedError
from ._multipart import MultipartUploader
from ._progress import ProgressStatus, ProgressTracker, SummaryStatistics
from ._s3_check_cache import S3CheckCache
from ._storage import ObjectStorage

__all__ = ["ContentUpload", "upload_contents"]

log = logging.getLogger("farmhand.job_attachments")

MULTIPART_THRESHOLD = 16 * 1024 * 1024
MEDIUM_WORKERS = 8  # files up to MULTIPART_THRESHOLD are held in memory while they are sent
BATCH_BYTES = 8 * 1024 * 1024
BATCH_FILES = 2000
BATCH_WORKERS = 4


@dataclass(frozen=True, slots=True)
class ContentUpload:
    """A file whose content is to be stored under its hash; size and mtime as when it was hashed."""

    hash: str
    path: str
    size: int
    mtime_ns: int


def read_verified(item: ContentUpload) -> bytes:
    """The file's bytes, if they are still the ones hashed (else FileChangedError)."""
    fd = os.open(item.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (item.size, item.mtime_ns):
            raise FileChangedError(f"{item.path} changed after it was hashed; submit again")
        data = os.pread(fd, item.size + 1, 0)
    finally:
        os.close(fd)
    if len(data) != item.size or xxhash.xxh3_128_hexdigest(data) != item.hash:
        raise FileChangedError(f"{item.path} changed after it was hashed; submit again")
    return data


def upload_contents(
    storage: ObjectStorage,
    items: Sequence[ContentUpload],
    *,
    check_cache: S3CheckCache | None = None,
    force_check: bool = False,
    tracker: ProgressTracker | None = None,
    state_dir: Path | None = None,
) -> SummaryStatistics:
    """Make sure every item's content is stored under `<rootPrefix>/Data/<hash>.xxh128`."""
    unique: dict[str, ContentUpload] = {}
    for item in items:
        unique.setdefault(item.hash, item)
    total_bytes = sum(i.size for i in unique.values())
    tracker = tracker or ProgressTracker(ProgressStatus.UPLOAD_IN_PROGRESS, len(unique), total_bytes)
    settings = storage.settings
    key_of = {digest: settings.data_key(digest) for digest in unique}
    keys = list(key_of.values())

    known: set[str] = set()
    if check_cache is not None and not force_check:
        known = check_cache.verified_present(
            storage.endpoint_url, storage.bucket, keys, lambda sample: storage.missing(sample)
        )
    unknown = [key for key in keys if key not in known]
    missing = storage.missing(unknown) if unknown else set()
    to_send = [item for digest, item in unique.items() if key_of[digest] in missing]
    for digest, item in unique.items():
        if key_of[digest] not in missing:
            tracker.file_done(item.size, skipped=True)

    item_limit = storage.batch_item_limit
    small = [i for i in to_send if i.size <= item_limit]
    medium = [i for i in to_send if item_limit < i.size < MULTIPART_THRESHOLD]
    large = [i for i in to_send if i.size >= MULTIPART_THRESHOLD]
    stored: list[str] = []

    def send_batch(batch: list[ContentUpload]) -> None:
        tracker.check()
        storage.put_many([(key_of[i.hash], read_verified(i)) for i in batch])
        for i in batch:
            tracker.file_done(i.size)

    def send_one(item: ContentUpload) -> None:
        tracker.check()
        storage.put_bytes(key_of[item.hash], read_verified(item))
        tracker.file_done(item.size)

    if small:
        with ThreadPoolExecutor(max_workers=BATCH_WORKERS, thread_name_prefix="ja-batch") as pool:
            list(pool.map(send_batch, _batches(small)))
        stored += [key_of[i.hash] for i in small]
    if medium:
        with ThreadPoolExecutor(max_workers=MEDIUM_WORKERS, thread_name_prefix="ja-put") as pool:
            list(pool.map(send_one, medium))
        stored += [key_of[i.hash] for i in medium]
    if large:
        uploader = MultipartUploader(storage, state_dir or default_cache_dir() / "farmhand-uploads")
        for item in large:
            tracker.check()
            uploader.upload(key_of[item.hash], item.path, item.size, item.mtime_ns, tracker)
            tracker.file_done(item.size, bytes_counted=True)
            stored.append(key_of[item.hash])
    if check_cache is not None:
        # What the cache already vouched for keeps its date: it is checked again once it expires.
        check_cache.record(
            storage.endpoint_url, storage.bucket, [*stored, *(k for k in unknown if k not in missing)]
        )
    return tracker.finish()


def _batches(items: list[ContentUpload]) -> list[list[ContentUpload]]:
    batches: list[list[ContentUpload]] = []
    current: list[ContentUpload] = []
    size = 0
    for item in items:
        if current and (size + item.size > BATCH_BYTES or len(current) >= BATCH_FILES):
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        batches.append(current)
    return batches
