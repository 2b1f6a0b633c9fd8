"""The storage engine: buckets, objects and multipart uploads in a directory of the farm's data dir.

Layout under the store's root (0700):

* `index.sqlite3`: the index (objects with their size, ETag, metadata, checksums; uploads; parts).
  Small objects live in it whole; HEAD and listings never touch another file.
* `staging/<id>`: a blob being received. It is fsynced, then the index entry that refers to it is
  committed (with staging/ fsynced first), then it is moved to `blobs/<id>`. A blob is never
  changed after that and belongs to one object or one part.
* `blobs/<id>`: committed blobs. An object is a list of extents (blob, length): a multipart object
  is its parts' blobs in order, so completing an upload copies nothing.

An object is visible only once its bytes are durable, and a replaced object's blobs are deleted only
after the replacement is committed: after kill -9, ENOSPC or concurrent PUTs of one key, a reader sees
the old object or one whole new one, never part of one. Start-up finishes what a crash interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from ._errors import S3Error
from ._index import Batch, Index
from ._names import check_bucket_name, check_key

__all__ = [
    "INLINE_MAX_BYTES",
    "MIN_PART_BYTES",
    "ListPage",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "PartInfo",
    "StagedBlob",
    "UploadInfo",
]

T = TypeVar("T")

INLINE_MAX_BYTES = 128 * 1024
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000
UPLOAD_LIFETIME_SECONDS = 7 * 24 * 3600
RESERVE_BYTES = 64 * 1024 * 1024
_IOV_MAX = 1024  # buffers one writev may take (Linux's IOV_MAX)
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def _out_of_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


def _storage_error(exc: BaseException) -> S3Error:
    if _out_of_space(exc):
        return S3Error(
            "InsufficientStorage", "The farm's object store is out of disk space; nothing was stored"
        )
    return S3Error("InternalError", f"The object store could not write: {exc}")


@dataclass(frozen=True)
class ObjectInfo:
    """What HEAD answers: everything about an object except its bytes."""

    bucket: str
    key: str
    size: int
    etag: str  # without quotes
    modified: float  # epoch seconds
    content_type: str = DEFAULT_CONTENT_TYPE
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    parts_count: int | None = None


@dataclass(frozen=True)
class UploadInfo:
    upload_id: str
    bucket: str
    key: str
    created: float
    checksum_algorithm: str | None


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    size: int
    etag: str
    modified: float
    checksums: dict[str, str]


@dataclass(frozen=True)
class ListPage:
    contents: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix returned, for the next page


class StagedBlob:
    """A blob being written in staging/; `commit_*` makes it part of the store, `discard` drops it."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.blob_id = secrets.token_hex(16)
        self.path = store.staging / self.blob_id
        self.size = 0
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)

    def write(self, data: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self.size += written
        except OSError as exc:
            self.discard()
            raise _storage_error(exc) from exc

    def write_many(self, pieces: Sequence[bytes | memoryview]) -> None:
        """Append `pieces` in order with as few system calls as possible (writev), so a body's
        chunks need not be joined into one buffer first."""
        assert self._fd is not None
        views = [memoryview(piece).cast("B") for piece in pieces if len(piece)]
        first = 0
        try:
            while first < len(views):
                written = os.writev(self._fd, views[first : first + _IOV_MAX])
                self.size += written
                while written:
                    length = len(views[first])
                    if written >= length:
                        written -= length
                        first += 1
                    else:
                        views[first] = views[first][written:]
                        written = 0
        except OSError as exc:
            self.discard()
            raise _storage_error(exc) from exc

    def finish(self) -> None:
        """Make the bytes durable (fsync); the blob is then ready to be committed."""
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self.discard()
            raise _storage_error(exc) from exc
        os.close(self._fd)
        self._fd = None

    def discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class ObjectReader:
    """An object's bytes, opened at one consistent moment (a later replacement does not affect it)."""

    def __init__(self, info: ObjectInfo, data: bytes | None, files: list[tuple[BinaryIO, int]]) -> None:
        self.info = info
        self._data = data
        self._files = files

    @property
    def files(self) -> list[tuple[BinaryIO, int]]:
        """The open blobs holding the object's bytes, in order, with their lengths."""
        return list(self._files)

    @property
    def in_index(self) -> bool:
        """A small object kept whole in the index: its bytes are already in memory."""
        return self._data is not None

    def chunks(
        self, start: int = 0, end: int | None = None, chunk_size: int = 1024 * 1024
    ) -> Iterator[bytes]:
        """The bytes [start, end) (end exclusive; None: to the end) in chunks of up to `chunk_size`."""
        stop = self.info.size if end is None else min(end, self.info.size)
        if self._data is not None:
            for offset in range(start, stop, chunk_size):
                yield self._data[offset : min(offset + chunk_size, stop)]
            return
        base = 0
        for handle, length in self._files:
            lo, hi = max(start, base), min(stop, base + length)
            offset = lo
            while offset < hi:
                piece = os.pread(handle.fileno(), min(chunk_size, hi - offset), offset - base)
                if not piece:
                    raise S3Error("InternalError", "An object's blob is shorter than its index entry")
                offset += len(piece)
                yield piece
            base += length
            if base >= stop:
                break

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        return b"".join(self.chunks(start, end))

    def close(self) -> None:
        for handle, _ in self._files:
            handle.close()
        self._files = []

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _info_from_row(row: sqlite3.Row | tuple[Any, ...]) -> ObjectInfo:
    bucket, key, size, etag, modified, content_type, metadata, headers, checksums, parts_count = row[:10]
    return ObjectInfo(
        bucket,
        key,
        size,
        etag,
        modified,
        content_type,
        json.loads(metadata),
        json.loads(headers),
        json.loads(checksums),
        parts_count,
    )


_INFO_COLUMNS = "bucket, key, size, etag, modified, content_type, metadata, headers, checksums, parts_count"


def _successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no such bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None


class ObjectStore:
    """The farm's object store. Thread-safe; writes wait until they are durable."""

    def __init__(self, root: Path, *, max_object_bytes: int = 5 * 1024**3) -> None:
        self.root = Path(root)
        self.max_object_bytes = max_object_bytes
        self.staging = self.root / "staging"
        self.blobs = self.root / "blobs"
        for directory in (self.root, self.staging, self.blobs):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
        self._landed_to_forget: list[str] = []
        self._garbage_to_forget: list[str] = []
        self.index = Index(self.root / "index.sqlite3", self._after_commit, self._before_commit)
        os.chmod(self.index.path, 0o600)
        self._recover()

    # -- buckets ---------------------------------------------------------------------------------

    def create_bucket(self, name: str, *, exist_ok: bool = False) -> None:
        check_bucket_name(name)

        def change(batch: Batch) -> None:
            exists = batch.conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone()
            if exists:
                if exist_ok:
                    return
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    bucket=name,
                )
            batch.conn.execute("INSERT INTO buckets (name, created) VALUES (?, ?)", (name, time.time()))

        self._write(change)

    def ensure_bucket(self, name: str) -> None:
        """Create the bucket unless it exists (e.g. a queue's bucket on the farm)."""
        self.create_bucket(name, exist_ok=True)

    def bucket_exists(self, name: str) -> bool:
        row = self.index.reader().execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone()
        return row is not None

    def list_buckets(self) -> list[tuple[str, float]]:
        rows = self.index.reader().execute("SELECT name, created FROM buckets ORDER BY name").fetchall()
        return [(str(name), float(created)) for name, created in rows]

    def delete_bucket(self, name: str) -> None:
        def change(batch: Batch) -> None:
            conn = batch.conn
            _require_bucket(conn, name)
            busy = conn.execute(
                "SELECT 1 FROM objects WHERE bucket = ? UNION ALL SELECT 1 FROM uploads WHERE bucket = ? "
                "LIMIT 1",
                (name, name),
            ).fetchone()
            if busy:
                raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", bucket=name)
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

        self._write(change)

    def require_bucket(self, name: str) -> None:
        _require_bucket(self.index.reader(), name)

    # -- objects ---------------------------------------------------------------------------------

    def check_space(self, incoming: int) -> None:
        """Refuse `incoming` bytes that would eat into the reserve. The reserve (a quarter of the
        filesystem, at most 64 MiB) keeps room for the index to checkpoint and for deletes, which is
        how a full store gets space back."""
        stats = os.statvfs(self.root)
        free, total = stats.f_bavail * stats.f_frsize, stats.f_blocks * stats.f_frsize
        reserve = min(RESERVE_BYTES, total // 4)
        if free - incoming < reserve and incoming <= INLINE_MAX_BYTES:
            # A small object goes into the index, which reuses the pages deleted objects left.
            conn = self.index.reader()
            pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
            free += int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])
        if free - incoming < reserve:
            raise S3Error(
                "InsufficientStorage",
                f"The farm's object store is out of disk space ({free} bytes free); nothing was stored",
            )

    def stage(self) -> StagedBlob:
        """A new blob in staging/ for bytes about to arrive."""
        try:
            return StagedBlob(self)
        except OSError as exc:
            raise _storage_error(exc) from exc

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes | StagedBlob,
        *,
        etag: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        checksums: dict[str, str] | None = None,
    ) -> Future[ObjectInfo]:
        """Store an object (bytes, or a finished staged blob). The future resolves to its index
        entry once the object is durable, or raises the S3Error that refused it."""
        check_key(key)
        if isinstance(body, StagedBlob):
            size = body.size
            data: bytes | None = None
            extents: list[tuple[str, int]] | None = [(body.blob_id, size)] if size else []
            if etag is None:
                raise ValueError("a staged blob needs its etag")
        else:
            data = bytes(body)
            size = len(data)
            extents = None
            etag = etag or hashlib.md5(data, usedforsecurity=False).hexdigest()
        info = ObjectInfo(
            bucket,
            key,
            size,
            etag,
            time.time(),
            content_type or DEFAULT_CONTENT_TYPE,
            dict(metadata or {}),
            dict(headers or {}),
            dict(checksums or {}),
            None,
        )

        def change(batch: Batch) -> ObjectInfo:
            _require_bucket(batch.conn, bucket)
            _replace_object(batch, info, data, extents)
            if isinstance(body, StagedBlob) and size:
                batch.staged.append(body.blob_id)
            return info

        future = self.index.submit(change)
        if isinstance(body, StagedBlob):

            def cleanup(done: Future[ObjectInfo]) -> None:
                if done.exception() is not None or not size:
                    body.discard()

            future.add_done_callback(cleanup)
        return _translated(future)

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's index entry, or None when there is no such object."""
        row = (
            self.index.reader()
            .execute(f"SELECT {_INFO_COLUMNS} FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            .fetchone()
        )
        return None if row is None else _info_from_row(row)

    def open_object(self, bucket: str, key: str) -> ObjectReader | None:
        """A reader of the object's bytes as they are now, or None when there is no such object."""
        for _attempt in range(5):
            row = (
                self.index.reader()
                .execute(
                    f"SELECT {_INFO_COLUMNS}, extents, data FROM objects WHERE bucket = ? AND key = ?",
                    (bucket, key),
                )
                .fetchone()
            )
            if row is None:
                return None
            info = _info_from_row(row)
            extents, data = row[10], row[11]
            if extents is None:
                return ObjectReader(info, bytes(data or b""), [])
            files: list[tuple[BinaryIO, int]] = []
            try:
                for blob_id, length in json.loads(extents):
                    files.append((self._open_blob(blob_id), int(length)))
            except FileNotFoundError:
                # Replaced and collected between reading the entry and opening its blobs: read again.
                for handle, _ in files:
                    handle.close()
                continue
            return ObjectReader(info, None, files)
        raise S3Error("InternalError", f"The blobs of {bucket}/{key} could not be opened")

    def read_object(self, bucket: str, key: str, max_bytes: int) -> bytes | None:
        """The whole object (None when missing); refuses objects larger than `max_bytes`."""
        reader = self.open_object(bucket, key)
        if reader is None:
            return None
        with reader:
            if reader.info.size > max_bytes:
                raise S3Error(
                    "EntityTooLarge", f"{bucket}/{key} is {reader.info.size} bytes, over {max_bytes}"
                )
            return reader.read()

    def xxh128_of(self, bucket: str, key: str) -> str | None:
        """The xxh3-128 hex digest of an object's bytes (None when missing)."""
        import xxhash

        reader = self.open_object(bucket, key)
        if reader is None:
            return None
        with reader:
            digest = xxhash.xxh3_128()
            for chunk in reader.chunks():
                digest.update(chunk)
            return str(digest.hexdigest())

    def write_object(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        """Store a whole object given as bytes (service-side writes, e.g. a copied job template)."""
        self.check_space(len(body))
        if len(body) <= INLINE_MAX_BYTES:
            self.put_object(bucket, key, body, content_type=content_type).result()
            return
        blob = self.stage()
        blob.write(body)
        blob.finish()
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        self.put_object(bucket, key, blob, etag=etag, content_type=content_type).result()

    def copy_to(self, bucket: str, key: str, destination: Path) -> ObjectInfo | None:
        """Write the object to `destination` (created 0600, replaced atomically) without passing its
        bytes through Python: blobs are copied by the kernel (`copy_file_range`, which shares the
        blocks on filesystems that can). For readers on the farm's own host; None when missing."""
        reader = self.open_object(bucket, key)
        if reader is None:
            return None
        partial = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.partial")
        with reader:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                if reader.in_index:
                    os.write(fd, reader.read())
                for handle, length in reader.files:
                    copied = 0
                    while copied < length:
                        done = os.copy_file_range(handle.fileno(), fd, length - copied, copied)
                        if done == 0:
                            raise S3Error(
                                "InternalError", f"A blob of {bucket}/{key} is shorter than its entry"
                            )
                        copied += done
            except BaseException:
                os.close(fd)
                partial.unlink(missing_ok=True)
                raise
            os.close(fd)
        os.replace(partial, destination)
        return reader.info

    def object_files(self, bucket: str, key: str) -> list[tuple[Path, int]] | None:
        """The files holding an object's bytes in order, with their lengths (empty for small objects
        kept in the index). For readers on the farm's own host that copy or reflink them; the files
        are never modified, but may be deleted once the object is replaced."""
        row = (
            self.index.reader()
            .execute("SELECT extents FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            .fetchone()
        )
        if row is None:
            return None
        if row[0] is None:
            return []
        return [(self._blob_path(blob_id), int(length)) for blob_id, length in json.loads(row[0])]

    def delete_object(self, bucket: str, key: str) -> None:
        def change(batch: Batch) -> None:
            _require_bucket(batch.conn, bucket)
            _drop_object(batch, bucket, key)

        self._write(change)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        after: str | None = None,
        max_keys: int = 1000,
        *,
        after_is_prefix: bool = False,
    ) -> ListPage:
        """One page of keys under `prefix` in UTF-8 order, after `after` (a key, or a common prefix
        when `after_is_prefix`: then after every key it covers). Keys sharing a part up to the
        first `delimiter` after the prefix are rolled up into one common prefix."""
        conn = self.index.reader()
        _require_bucket(conn, bucket)
        contents: list[ObjectInfo] = []
        prefixes: list[str] = []
        upper = _successor(prefix) if prefix else None
        lower, inclusive = prefix, True
        if after is not None and after >= prefix:
            following = _successor(after) if after_is_prefix else None
            lower, inclusive = (following, True) if following is not None else (after, False)
        last: str | None = None
        while True:
            limit = max_keys - len(contents) - len(prefixes) + 1
            sql = (
                f"SELECT {_INFO_COLUMNS} FROM objects WHERE bucket = ? AND key {'>=' if inclusive else '>'} ?"
            )
            args: list[Any] = [bucket, lower]
            if upper is not None:
                sql += " AND key < ?"
                args.append(upper)
            sql += " ORDER BY key LIMIT ?"
            args.append(limit)
            rows = conn.execute(sql, args).fetchall()
            rolled_up = False
            for row in rows:
                if len(contents) + len(prefixes) >= max_keys:
                    return ListPage(contents, prefixes, True, last)
                key = row[1]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    prefixes.append(common)
                    last = common
                    following = _successor(common)
                    if following is None:
                        return ListPage(contents, prefixes, False, last)
                    lower, inclusive, rolled_up = following, True, True
                    break
                contents.append(_info_from_row(row))
                last = key
            if not rolled_up:
                if len(rows) < limit:
                    return ListPage(contents, prefixes, False, last)
                lower, inclusive = str(last), False

    # -- multipart uploads -----------------------------------------------------------------------

    def create_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        checksum_algorithm: str | None = None,
    ) -> str:
        check_key(key)
        upload_id = secrets.token_urlsafe(24)

        def change(batch: Batch) -> str:
            _require_bucket(batch.conn, bucket)
            batch.conn.execute(
                "INSERT INTO uploads (upload_id, bucket, key, created, content_type, metadata, headers, "
                "checksum_algorithm) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload_id,
                    bucket,
                    key,
                    time.time(),
                    content_type or DEFAULT_CONTENT_TYPE,
                    json.dumps(metadata or {}),
                    json.dumps(headers or {}),
                    checksum_algorithm,
                ),
            )
            return upload_id

        return self._write(change)

    def upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        row = (
            self.index.reader()
            .execute(
                "SELECT upload_id, bucket, key, created, checksum_algorithm FROM uploads WHERE upload_id = ?",
                (upload_id,),
            )
            .fetchone()
        )
        if row is None or row[1] != bucket or row[2] != key:
            raise _no_such_upload(upload_id)
        return UploadInfo(*row)

    def put_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        blob: StagedBlob,
        etag: str,
        checksums: dict[str, str],
    ) -> Future[PartInfo]:
        """Store one part (a finished staged blob); the future resolves once it is durable."""
        if not 1 <= part_number <= MAX_PARTS:
            blob.discard()
            raise S3Error("InvalidArgument", f"Part number must be an integer between 1 and {MAX_PARTS}")
        part = PartInfo(part_number, blob.size, etag, time.time(), checksums)

        def change(batch: Batch) -> PartInfo:
            conn = batch.conn
            _require_upload(conn, bucket, key, upload_id)
            old = conn.execute(
                "SELECT blob FROM parts WHERE upload_id = ? AND part_number = ?", (upload_id, part_number)
            ).fetchone()
            if old is not None:
                _collect(batch, old[0])
            conn.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, modified, checksums, "
                "blob) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (upload_id, part_number, part.size, etag, part.modified, json.dumps(checksums), blob.blob_id),
            )
            batch.staged.append(blob.blob_id)
            return part

        future = self.index.submit(change)

        def cleanup(done: Future[PartInfo]) -> None:
            if done.exception() is not None:
                blob.discard()

        future.add_done_callback(cleanup)
        return _translated(future)

    def list_parts(
        self, bucket: str, key: str, upload_id: str, after: int = 0, max_parts: int = 1000
    ) -> tuple[list[PartInfo], bool]:
        conn = self.index.reader()
        _require_upload(conn, bucket, key, upload_id)
        rows = conn.execute(
            "SELECT part_number, size, etag, modified, checksums FROM parts WHERE upload_id = ? "
            "AND part_number > ? ORDER BY part_number LIMIT ?",
            (upload_id, after, max_parts + 1),
        ).fetchall()
        parts = [PartInfo(n, size, etag, modified, json.loads(c)) for n, size, etag, modified, c in rows]
        return parts[:max_parts], len(parts) > max_parts

    def list_uploads(self, bucket: str, prefix: str = "") -> list[UploadInfo]:
        conn = self.index.reader()
        _require_bucket(conn, bucket)
        rows = conn.execute(
            "SELECT upload_id, bucket, key, created, checksum_algorithm FROM uploads WHERE bucket = ? "
            "AND substr(key, 1, ?) = ? ORDER BY key, created LIMIT 1000",
            (bucket, len(prefix), prefix),
        ).fetchall()
        return [UploadInfo(*row) for row in rows]

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        """Make the listed parts (number, ETag) the object, in order; nothing is copied."""
        if not parts:
            raise S3Error("MalformedXML", "CompleteMultipartUpload must list at least one part")
        numbers = [number for number, _ in parts]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order")

        def change(batch: Batch) -> ObjectInfo:
            conn = batch.conn
            upload = conn.execute(
                "SELECT bucket, key, content_type, metadata, headers, checksum_algorithm FROM uploads "
                "WHERE upload_id = ?",
                (upload_id,),
            ).fetchone()
            if upload is None or upload[0] != bucket or upload[1] != key:
                raise _no_such_upload(upload_id)
            stored = {
                n: (size, etag, json.loads(c), blob)
                for n, size, etag, c, blob in conn.execute(
                    "SELECT part_number, size, etag, checksums, blob FROM parts WHERE upload_id = ?",
                    (upload_id,),
                )
            }
            extents: list[tuple[str, int]] = []
            digests = b""
            for position, (number, given_etag) in enumerate(parts):
                found = stored.get(number)
                if found is None or given_etag.strip('"') != found[1]:
                    raise S3Error(
                        "InvalidPart",
                        f"Part {number} was not uploaded or its ETag {given_etag} does not match",
                    )
                if position < len(parts) - 1 and found[0] < MIN_PART_BYTES:
                    raise S3Error(
                        "EntityTooSmall",
                        f"Part {number} is {found[0]} bytes; every part but the last must be at least "
                        f"{MIN_PART_BYTES} bytes",
                    )
                extents.append((found[3], found[0]))
                digests += bytes.fromhex(found[1])
            used = {number for number, _ in parts}
            for number, (_size, _etag, _c, blob_id) in stored.items():
                if number not in used:
                    _collect(batch, blob_id)
            size = sum(length for _, length in extents)
            checksums: dict[str, str] = {}
            algorithm = upload[5]
            if algorithm:
                import base64

                from ._checksums import new_checksum

                combined = new_checksum(algorithm)
                complete = True
                for number, _ in parts:
                    value = stored[number][2].get(algorithm)
                    if value is None:
                        complete = False
                        break
                    combined.update(base64.b64decode(value))
                if complete:
                    checksums[algorithm] = base64.b64encode(combined.digest()).decode() + f"-{len(parts)}"
            info = ObjectInfo(
                bucket,
                key,
                size,
                hashlib.md5(digests, usedforsecurity=False).hexdigest() + f"-{len(parts)}",
                time.time(),
                upload[2],
                json.loads(upload[3]),
                json.loads(upload[4]),
                checksums,
                len(parts),
            )
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            _replace_object(batch, info, None, [e for e in extents if e[1]], keep=set())
            for blob_id, length in extents:
                if not length:
                    _collect(batch, blob_id)
            return info

        return self._write(change)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        def change(batch: Batch) -> None:
            _require_upload(batch.conn, bucket, key, upload_id)
            _drop_upload(batch, upload_id)

        self._write(change)

    def expire_uploads(self, max_age_seconds: float = UPLOAD_LIFETIME_SECONDS) -> int:
        """Abort uploads started more than `max_age_seconds` ago; returns how many."""
        cutoff = time.time() - max_age_seconds

        def change(batch: Batch) -> int:
            stale = [
                row[0]
                for row in batch.conn.execute(
                    "SELECT upload_id FROM uploads WHERE created < ? LIMIT 1000", (cutoff,)
                )
            ]
            for upload_id in stale:
                _drop_upload(batch, upload_id)
            return len(stale)

        return self._write(change)

    # -- housekeeping ----------------------------------------------------------------------------

    def housekeep(self) -> None:
        """Periodic upkeep: abort multipart uploads left unfinished for longer than 7 days."""
        while self.expire_uploads() == 1000:
            pass

    def close(self) -> None:
        self.index.close()

    def _write(self, change: Callable[[Batch], T]) -> T:
        return _translated(self.index.submit(change)).result()

    def _blob_path(self, blob_id: str) -> Path:
        return self.blobs / blob_id

    def _open_blob(self, blob_id: str) -> BinaryIO:
        try:
            return open(self.blobs / blob_id, "rb")
        except FileNotFoundError:
            # Committed, not yet moved out of staging/.
            return open(self.staging / blob_id, "rb")

    def _before_commit(self, batch: Batch) -> None:
        """Make staged blobs' directory entries durable before the index refers to them; forget the
        landed and collected blobs the previous batches already moved or deleted."""
        if batch.staged:
            _fsync_directory(self.staging)
        if self._landed_to_forget or self._garbage_to_forget:
            _fsync_directory(self.blobs)
            _fsync_directory(self.staging)
            landed, self._landed_to_forget = self._landed_to_forget, []
            garbage, self._garbage_to_forget = self._garbage_to_forget, []
            batch.conn.executemany("DELETE FROM landed WHERE blob = ?", [(b,) for b in landed])
            batch.conn.executemany("DELETE FROM garbage WHERE blob = ?", [(b,) for b in garbage])
        batch.conn.executemany("INSERT OR IGNORE INTO landed (blob) VALUES (?)", [(b,) for b in batch.staged])
        batch.conn.executemany(
            "INSERT OR IGNORE INTO garbage (blob) VALUES (?)", [(b,) for b in batch.garbage]
        )

    def _after_commit(self, batch: Batch) -> None:
        """Move the newly committed blobs out of staging/ and delete the ones no longer referenced."""
        for blob_id in batch.staged:
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.staging / blob_id, self.blobs / blob_id)
            self._landed_to_forget.append(blob_id)
        for blob_id in batch.garbage:
            for directory in (self.blobs, self.staging):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / blob_id)
            self._garbage_to_forget.append(blob_id)

    def _recover(self) -> None:
        """Finish what a crash interrupted: move committed blobs out of staging/, delete the rest of
        staging/ (bytes never committed) and the blobs that were no longer referenced."""
        conn = self.index.reader()
        landed = {row[0] for row in conn.execute("SELECT blob FROM landed")}
        garbage = {row[0] for row in conn.execute("SELECT blob FROM garbage")}
        for entry in os.scandir(self.staging):
            if entry.name in landed and entry.name not in garbage:
                os.rename(entry.path, self.blobs / entry.name)
            else:
                os.unlink(entry.path)
        for blob_id in garbage:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.blobs / blob_id)
        _fsync_directory(self.staging)
        _fsync_directory(self.blobs)

        def forget(batch: Batch) -> None:
            batch.conn.execute("DELETE FROM landed")
            batch.conn.execute("DELETE FROM garbage")

        try:
            self.index.write(forget)
        except (OSError, sqlite3.Error) as exc:
            # A full disk must not keep the store from serving reads: the rows are forgotten at the
            # next start (moving and deleting their blobs again is harmless).
            logging.getLogger("farmhand.server.s3").warning("object store recovery not recorded: %s", exc)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _translated(future: Future[T]) -> Future[T]:
    """A future whose storage failures (disk full, I/O errors) become S3 errors."""
    out: Future[T] = Future()

    def relay(done: Future[T]) -> None:
        exc = done.exception()
        if exc is None:
            out.set_result(done.result())
        elif isinstance(exc, S3Error):
            out.set_exception(exc)
        elif isinstance(exc, (OSError, sqlite3.Error)):
            out.set_exception(_storage_error(exc))
        else:
            out.set_exception(exc)

    future.add_done_callback(relay)
    return out


def _require_bucket(conn: sqlite3.Connection, bucket: str) -> None:
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist", bucket=bucket)


def _no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.",
    )


def _require_upload(conn: sqlite3.Connection, bucket: str, key: str, upload_id: str) -> None:
    row = conn.execute("SELECT bucket, key FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
    if row is None or row[0] != bucket or row[1] != key:
        _require_bucket(conn, bucket)
        raise _no_such_upload(upload_id)


def _collect(batch: Batch, blob_id: str) -> None:
    batch.garbage.append(blob_id)


def _drop_object(batch: Batch, bucket: str, key: str) -> None:
    old = batch.conn.execute(
        "SELECT extents FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()
    if old is None:
        return
    if old[0]:
        for blob_id, _length in json.loads(old[0]):
            _collect(batch, blob_id)
    batch.conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))


def _replace_object(
    batch: Batch,
    info: ObjectInfo,
    data: bytes | None,
    extents: list[tuple[str, int]] | None,
    keep: set[str] | None = None,
) -> None:
    _drop_object(batch, info.bucket, info.key)
    batch.conn.execute(
        "INSERT INTO objects (bucket, key, size, etag, modified, content_type, metadata, headers, "
        "checksums, extents, parts_count, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            info.bucket,
            info.key,
            info.size,
            info.etag,
            info.modified,
            info.content_type,
            json.dumps(info.metadata),
            json.dumps(info.headers),
            json.dumps(info.checksums),
            None if extents is None else json.dumps(extents),
            info.parts_count,
            data,
        ),
    )


def _drop_upload(batch: Batch, upload_id: str) -> None:
    for (blob_id,) in batch.conn.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,)):
        _collect(batch, blob_id)
    batch.conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    batch.conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
