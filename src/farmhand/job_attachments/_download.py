"""Downloading manifest files into a directory: verified, inside their root, cached per host.

Every object is checked against the hash it is stored under before it is used; a missing or
corrupt object fails the download with its key and the file it was for. Destinations are created
below their root only: a path whose existing directories include a symbolic link is refused, so a
manifest can never make anything be written outside the directory it is synced into. Small objects
come in batches (one request on a farm), large ones in parallel byte ranges written in place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import xxhash

from ._content_cache import ContentCache, FarmObjects, place_bytes, place_new_bytes
from ._errors import ObjectIntegrityError, ObjectMissingError, PathOutsideRootError
from ._manifest import ManifestEntry, check_relative_path
from ._progress import ProgressStatus, ProgressTracker, SummaryStatistics
from ._storage import ObjectStorage

__all__ = ["ConflictResolution", "DownloadSummary", "FileToPlace", "destination_in", "download_files"]

log = logging.getLogger("farmhand.job_attachments")

RANGE_THRESHOLD = 16 * 1024 * 1024
RANGE_BYTES = 16 * 1024 * 1024
RANGE_WORKERS = 4
GET_CHUNK = 512
PLACE_WORKERS = 4  # links and writes are system calls: several at once overlap their waits
IN_FLIGHT_BYTES = 64 * 1024 * 1024  # received objects waiting to be written, at most
STORE_BATCH_FILES = 200  # objects read from the farm's own store, written by one task
STORE_BATCH_BYTES = 8 * 1024 * 1024


class _BoundedPool:
    """A thread pool that blocks `submit` while too many bytes wait; re-raises the first failure."""

    def __init__(self, workers: int, max_bytes: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ja-write")
        self._room = threading.Semaphore(max_bytes // 65536)
        self._errors: list[BaseException] = []
        self._futures: list[Future[None]] = []

    def submit(self, function: Callable[[str, bytes], None], digest: str, data: bytes) -> None:
        self._submit(lambda: function(digest, data), len(data))

    def submit_batch(
        self, function: Callable[[list[tuple[str, bytes]]], None], batch: list[tuple[str, bytes]]
    ) -> None:
        """One task for many small objects: a pool hand-off costs more than writing a small file."""
        self._submit(lambda: function(batch), sum(len(data) for _, data in batch))

    def _submit(self, call: Callable[[], None], size: int) -> None:
        if self._errors:
            raise self._errors[0]
        units = max(1, min(size // 65536, IN_FLIGHT_BYTES // 65536 // 2))
        for _ in range(units):
            self._room.acquire()

        def run() -> None:
            try:
                call()
            except BaseException as error:
                self._errors.append(error)
                raise
            finally:
                for _ in range(units):
                    self._room.release()

        self._futures.append(self._pool.submit(run))

    def __enter__(self) -> _BoundedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        if self._errors and exc[0] is None:
            raise self._errors[0]


class ConflictResolution:
    OVERWRITE = "OVERWRITE"
    SKIP = "SKIP"
    CREATE_COPY = "CREATE_COPY"


@dataclass(frozen=True, slots=True)
class FileToPlace:
    """A manifest entry and where it goes; `link` allows a hard link to the host cache."""

    entry: ManifestEntry
    destination: str
    link: bool = True


@dataclass
class DownloadSummary(SummaryStatistics):
    linked_files: int = 0
    downloaded_files: list[str] = field(default_factory=list)

    def count_placed(self, destination: str, linked: bool) -> None:
        self.linked_files += int(linked)
        self.downloaded_files.append(destination)


class _Directories:
    """Creates destination directories below a root, refusing symbolic links on the way."""

    def __init__(self) -> None:
        self._checked: set[str] = set()

    def ensure(self, root: str, directory: str) -> None:
        if directory in self._checked:
            return
        real_root = os.path.realpath(root)
        relative = os.path.relpath(directory, root)
        current = root
        parts = [] if relative == "." else relative.split(os.sep)
        os.makedirs(root, exist_ok=True)
        for part in parts:
            current = os.path.join(current, part)
            if current in self._checked:
                continue
            try:
                info = os.lstat(current)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(current)
                info = os.lstat(current)
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
                raise PathOutsideRootError(f"{current} is not a directory inside {root} (a link or a file)")
            self._checked.add(current)
        real = os.path.realpath(directory)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise PathOutsideRootError(f"{directory} resolves outside {root}")


def destination_in(root: str, relative: str) -> str:
    """The absolute destination of a manifest path under `root` (PathOutsideRootError if it leaves)."""
    check_relative_path(relative)
    destination = os.path.normpath(os.path.join(root, *relative.split("/")))
    if not destination.startswith(os.path.normpath(root) + os.sep):
        raise PathOutsideRootError(f"{relative} leaves {root}")
    return destination


def _copy_name(destination: str) -> str:
    base, extension = os.path.splitext(destination)
    number = 1
    while os.path.lexists(f"{base} ({number}){extension}"):
        number += 1
    return f"{base} ({number}){extension}"


@contextlib.contextmanager
def _writing(destination: str) -> Iterator[None]:
    """Errors of writes name the file they were for (a full disk's or a size limit's name none)."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            raise OSError(error.errno, error.strerror, destination) from error
        raise


def download_files(
    storage: ObjectStorage,
    files: Sequence[tuple[str, FileToPlace]],
    *,
    cache: ContentCache | None = None,
    tracker: ProgressTracker | None = None,
    conflict: str = ConflictResolution.OVERWRITE,
) -> DownloadSummary:
    """Place each (root, file) under its root; returns what was transferred, linked and skipped."""
    total = sum(f.entry.size for _, f in files)
    tracker = tracker or ProgressTracker(ProgressStatus.DOWNLOAD_IN_PROGRESS, len(files), total)
    directories = _Directories()
    placements: list[FileToPlace] = []
    for root, item in files:
        directories.ensure(root, os.path.dirname(item.destination))
        if os.path.lexists(item.destination):
            if stat.S_ISLNK(os.lstat(item.destination).st_mode):
                raise PathOutsideRootError(f"{item.destination} is a symbolic link; it is not replaced")
            if conflict == ConflictResolution.SKIP:
                tracker.file_done(item.entry.size, skipped=True)
                continue
            if conflict == ConflictResolution.CREATE_COPY:
                item = FileToPlace(item.entry, _copy_name(item.destination), item.link)
        placements.append(item)

    by_hash: dict[str, list[FileToPlace]] = {}
    for item in placements:
        by_hash.setdefault(item.entry.hash, []).append(item)
    sizes = {digest: items[0].entry.size for digest, items in by_hash.items()}
    summary = DownloadSummary()
    cached: dict[str, int] = cache.available(list(sizes.items())) if cache is not None else {}

    def place_from_cache(digest: str) -> None:
        assert cache is not None
        tracker.check()
        for item in by_hash[digest]:
            with _writing(item.destination):
                linked = cache.place(
                    digest, cached[digest], item.destination, item.entry.mtime, link=item.link
                )
            summary.count_placed(item.destination, linked)
            tracker.file_done(item.entry.size, skipped=True)

    if cached:
        with ThreadPoolExecutor(max_workers=PLACE_WORKERS, thread_name_prefix="ja-place") as pool:
            list(pool.map(place_from_cache, list(cached)))

    wanted = [d for d in by_hash if d not in cached]
    small = [d for d in wanted if sizes[d] <= RANGE_THRESHOLD]
    large = [d for d in wanted if sizes[d] > RANGE_THRESHOLD]

    recorded: list[tuple[str, int, int]] = []

    def verify(digest: str, data: bytes) -> None:
        if len(data) != sizes[digest] or xxhash.xxh3_128_hexdigest(data) != digest:
            raise ObjectIntegrityError(
                f"s3://{storage.bucket}/{storage.settings.data_key(digest)} does not match its hash "
                f"(wanted for {by_hash[digest][0].destination}); it was not used"
            )

    def receive_from_store(batch: list[tuple[str, bytes]]) -> None:
        """On the farm's own host the store is this host's copy: its objects are written straight
        into place (one file each), not kept a second time in the host cache and linked."""
        for digest, data in batch:
            verify(digest, data)
            for item in by_hash[digest]:
                with _writing(item.destination):
                    place_new_bytes(data, item.destination, item.entry.mtime)
                summary.count_placed(item.destination, False)
                tracker.file_done(item.entry.size)

    def receive(digest: str, data: bytes) -> None:
        verify(digest, data)
        items = by_hash[digest]
        if cache is not None:
            with _writing(items[0].destination):
                entry = cache.store(digest, data, items[0].entry.mtime)
            recorded.append(entry)
            for item in items:
                with _writing(item.destination):
                    linked = cache.place(digest, entry[2], item.destination, item.entry.mtime, link=item.link)
                summary.count_placed(item.destination, linked)
                tracker.file_done(item.entry.size)
            return
        for item in items:
            with _writing(item.destination):
                place_bytes(data, item.destination, item.entry.mtime)
            summary.count_placed(item.destination, False)
            tracker.file_done(item.entry.size)

    try:
        with _BoundedPool(PLACE_WORKERS, IN_FLIGHT_BYTES) as writer:
            if cache is not None and cache.farm_objects is not None:
                small = _read_on_farm_host(cache.farm_objects, storage, small, writer, receive_from_store)
            for start in range(0, len(small), GET_CHUNK):
                tracker.check()
                chunk = small[start : start + GET_CHUNK]
                keys = [storage.settings.data_key(d) for d in chunk]
                absent: list[str] = []
                for (_key, data), digest in zip(storage.get_many(keys), chunk, strict=True):
                    if data is None:
                        absent.append(digest)
                    else:
                        writer.submit(receive, digest, data)
                for digest in absent:
                    data = _legacy_or_missing(storage, digest, by_hash[digest][0].destination)
                    writer.submit(receive, digest, data)
        for digest in large:
            tracker.check()
            with _writing(by_hash[digest][0].destination):
                entry = _download_large(
                    storage, digest, sizes[digest], by_hash[digest], cache, tracker, summary
                )
            if entry is not None:
                recorded.append(entry)
    finally:
        if cache is not None:
            cache.record(recorded)

    stats = tracker.finish()
    for name in vars(stats):
        setattr(summary, name, getattr(stats, name))
    return summary


def _read_on_farm_host(
    objects: FarmObjects,
    storage: ObjectStorage,
    digests: Sequence[str],
    writer: _BoundedPool,
    place: Callable[[list[tuple[str, bytes]]], None],
) -> list[str]:
    """Place what the farm's own store holds, read by its files; returns the digests it does not hold."""
    left: list[str] = []
    keys = [storage.settings.data_key(digest) for digest in digests]
    batch: list[tuple[str, bytes]] = []
    size = 0
    for digest, (_key, data) in zip(
        digests, objects.read_many(storage.bucket, keys, RANGE_THRESHOLD), strict=True
    ):
        if data is None:
            left.append(digest)
            continue
        batch.append((digest, data))
        size += len(data)
        if len(batch) >= STORE_BATCH_FILES or size >= STORE_BATCH_BYTES:
            writer.submit_batch(place, batch)
            batch, size = [], 0
    if batch:
        writer.submit_batch(place, batch)
    return left


def _legacy_or_missing(storage: ObjectStorage, digest: str, wanted_for: str) -> bytes:
    """Objects stored by early clients have no `.xxh128` extension; else the object is missing."""
    try:
        return storage.get_bytes(storage.settings.legacy_data_key(digest))[0]
    except ObjectMissingError:
        raise ObjectMissingError(
            f"s3://{storage.bucket}/{storage.settings.data_key(digest)} does not exist "
            f"(it holds {wanted_for})"
        ) from None


def _download_large(
    storage: ObjectStorage,
    digest: str,
    size: int,
    items: list[FileToPlace],
    cache: ContentCache | None,
    tracker: ProgressTracker,
    summary: DownloadSummary,
) -> tuple[str, int, int] | None:
    """Parallel byte ranges written in place into a temporary file, verified, then moved; the
    cache entry to record when it went into the cache."""
    key = storage.settings.data_key(digest)
    head = storage.head(key)
    if head is None:
        key = storage.settings.legacy_data_key(digest)
        head = storage.head(key)
    if head is None:
        raise ObjectMissingError(
            f"s3://{storage.bucket}/{storage.settings.data_key(digest)} does not exist "
            f"(it holds {items[0].destination})"
        )
    if int(head["ContentLength"]) != size:
        raise ObjectIntegrityError(
            f"s3://{storage.bucket}/{key} is {head['ContentLength']} bytes, not {size}"
        )
    etag = str(head.get("ETag") or "") or None
    first = items[0]
    if cache is not None:
        temporary = f"{cache.path(digest)}.{secrets.token_hex(4)}.part"
        os.makedirs(os.path.dirname(temporary), exist_ok=True, mode=0o700)
    else:
        temporary = f"{first.destination}.{secrets.token_hex(4)}.part"
    fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, size)

        def fetch(offset: int) -> None:
            tracker.check()
            end = min(size, offset + RANGE_BYTES)
            data = storage.get_range(key, offset, end, etag)
            os.pwrite(fd, data, offset)
            tracker.add_bytes(len(data))

        with ThreadPoolExecutor(max_workers=RANGE_WORKERS, thread_name_prefix="ja-range") as pool:
            list(pool.map(fetch, range(0, size, RANGE_BYTES)))
        if _hash_fd(fd) != digest:
            raise ObjectIntegrityError(
                f"s3://{storage.bucket}/{key} does not match its hash (wanted for {first.destination}); "
                "it was not used"
            )
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    os.close(fd)
    if cache is not None:
        entry = cache.adopt(digest, temporary, size, first.entry.mtime)
        for item in items:
            linked = cache.place(digest, entry[2], item.destination, item.entry.mtime, link=item.link)
            summary.count_placed(item.destination, linked)
            tracker.file_done(item.entry.size, bytes_counted=True)
        return entry
    os.chmod(temporary, 0o644)
    os.utime(temporary, ns=(first.entry.mtime * 1000,) * 2)
    os.replace(temporary, first.destination)
    summary.count_placed(first.destination, False)
    tracker.file_done(first.entry.size, bytes_counted=True)
    for item in items[1:]:
        _copy(first.destination, item.destination, item.entry.mtime)
        summary.count_placed(item.destination, False)
        tracker.file_done(item.entry.size, skipped=True)
    return None


def _copy(source: str, destination: str, mtime_us: int) -> None:
    temporary = f"{destination}.{secrets.token_hex(4)}.part"
    shutil.copyfile(source, temporary)
    os.utime(temporary, ns=(mtime_us * 1000, mtime_us * 1000))
    os.replace(temporary, destination)


def _hash_fd(fd: int) -> str:
    hasher = xxhash.xxh3_128()
    offset = 0
    while True:
        chunk = os.pread(fd, 8 * 1024 * 1024, offset)
        if not chunk:
            return str(hasher.hexdigest())
        hasher.update(chunk)
        offset += len(chunk)
