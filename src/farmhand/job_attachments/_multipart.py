"""Resumable multipart uploads of large files.

The upload id and the parts already sent are kept in a small JSON file per (endpoint, bucket, key)
under the cache directory. An upload interrupted by a crash, a lost connection or a cancel picks up
where it stopped: ListParts says which parts the store has, and only the others are sent again.
The state belongs to one version of the file (size and mtime): a changed file starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ._errors import FileChangedError, StorageAccessError
from ._progress import ProgressTracker
from ._storage import ObjectStorage, describe_client_error

__all__ = ["MultipartUploader", "part_size_for"]

log = logging.getLogger("farmhand.job_attachments")

MIN_PART_BYTES = 16 * 1024 * 1024
MAX_PARTS = 10_000
PART_WORKERS = 4


def part_size_for(size: int) -> int:
    """16 MiB parts, larger when the file would need more than 10,000."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART_BYTES, -(-needed // (1024 * 1024)) * 1024 * 1024)


@dataclass
class _State:
    path: Path
    doc: dict[str, Any]
    lock: threading.Lock

    def save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.doc, handle)
        os.replace(temporary, self.path)


class MultipartUploader:
    """Uploads one large file to one key, resuming an earlier attempt when its state is found."""

    def __init__(self, storage: ObjectStorage, state_dir: Path, *, workers: int = PART_WORKERS) -> None:
        self.storage = storage
        self.state_dir = Path(state_dir)
        self.workers = workers

    def _state_file(self, key: str) -> Path:
        name = hashlib.sha256(
            f"{self.storage.endpoint_url}\n{self.storage.bucket}\n{key}".encode()
        ).hexdigest()
        return self.state_dir / f"{name}.json"

    def upload(
        self,
        key: str,
        path: str,
        size: int,
        mtime_ns: int,
        tracker: ProgressTracker | None = None,
        *,
        metadata: dict[str, str] | None = None,
    ) -> int:
        """Upload the file (its size and mtime must still be these); returns the bytes sent now."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = self._resume_or_start(key, path, size, mtime_ns, metadata)
        part_size = int(state.doc["partSize"])
        count = max(1, -(-size // part_size))
        done: dict[str, str] = state.doc["parts"]
        todo = [n for n in range(1, count + 1) if str(n) not in done]
        if tracker is not None and done:
            already = sum(
                min(part_size, size - (n - 1) * part_size) for n in range(1, count + 1) if str(n) in done
            )
            tracker.add_bytes(already)
        sent = 0
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            self._check_unchanged(fd, path, size, mtime_ns)

            def send(number: int) -> int:
                if tracker is not None:
                    tracker.check()
                offset = (number - 1) * part_size
                length = min(part_size, size - offset)
                data = os.pread(fd, length, offset)
                if len(data) != length:
                    raise FileChangedError(f"{path} became shorter while it was uploaded")
                try:
                    answer = self.storage.s3.upload_part(
                        Bucket=self.storage.bucket,
                        Key=key,
                        UploadId=state.doc["uploadId"],
                        PartNumber=number,
                        Body=data,
                    )
                except (ClientError, BotoCoreError) as error:
                    raise StorageAccessError(
                        describe_client_error(error, self.storage.bucket, key, f"UploadPart {number}")
                    ) from error
                with state.lock:
                    done[str(number)] = str(answer["ETag"])
                    state.save()
                if tracker is not None:
                    tracker.add_bytes(length)
                return length

            if todo:
                with ThreadPoolExecutor(
                    max_workers=min(self.workers, len(todo)), thread_name_prefix="ja-part"
                ) as pool:
                    sent = sum(pool.map(send, todo))
            self._check_unchanged(fd, path, size, mtime_ns)
        finally:
            os.close(fd)
        parts = [{"PartNumber": n, "ETag": done[str(n)]} for n in range(1, count + 1)]
        try:
            self.storage.s3.complete_multipart_upload(
                Bucket=self.storage.bucket,
                Key=key,
                UploadId=state.doc["uploadId"],
                MultipartUpload={"Parts": parts},
            )
        except (ClientError, BotoCoreError) as error:
            if _code(error) in ("NoSuchUpload", "InvalidPart"):
                state.path.unlink(missing_ok=True)  # the store forgot it: start again next time
            raise StorageAccessError(
                describe_client_error(error, self.storage.bucket, key, "CompleteMultipartUpload")
            ) from error
        state.path.unlink(missing_ok=True)
        return sent

    @staticmethod
    def _check_unchanged(fd: int, path: str, size: int, mtime_ns: int) -> None:
        info = os.fstat(fd)
        if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
            raise FileChangedError(f"{path} changed after it was hashed; submit again")

    def _resume_or_start(
        self, key: str, path: str, size: int, mtime_ns: int, metadata: dict[str, str] | None
    ) -> _State:
        state_file = self._state_file(key)
        try:
            doc = json.loads(state_file.read_text())
        except (OSError, ValueError):
            doc = None
        if doc and (doc.get("key"), doc.get("size"), doc.get("mtimeNs")) == (key, size, mtime_ns):
            listed = self._listed_parts(key, str(doc["uploadId"]))
            if listed is not None:
                part_size = int(doc["partSize"])
                kept = {
                    str(n): etag
                    for n, (etag, length) in listed.items()
                    if length == min(part_size, size - (n - 1) * part_size)
                }
                doc["parts"] = kept
                log.info("resuming the upload of %s: %d parts already stored", path, len(kept))
                state = _State(state_file, doc, threading.Lock())
                state.save()
                return state
        try:
            kwargs: dict[str, Any] = {"Bucket": self.storage.bucket, "Key": key}
            if metadata:
                kwargs["Metadata"] = metadata
            upload_id = self.storage.s3.create_multipart_upload(**kwargs)["UploadId"]
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(
                describe_client_error(error, self.storage.bucket, key, "CreateMultipartUpload")
            ) from error
        doc = {
            "key": key,
            "path": path,
            "size": size,
            "mtimeNs": mtime_ns,
            "uploadId": upload_id,
            "partSize": part_size_for(size),
            "parts": {},
        }
        state = _State(state_file, doc, threading.Lock())
        state.save()
        return state

    def _listed_parts(self, key: str, upload_id: str) -> dict[int, tuple[str, int]] | None:
        """Parts the store holds for the upload, or None if it no longer knows the upload."""
        parts: dict[int, tuple[str, int]] = {}
        try:
            paginator = self.storage.s3.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self.storage.bucket, Key=key, UploadId=upload_id):
                for part in page.get("Parts") or []:
                    parts[int(part["PartNumber"])] = (str(part["ETag"]), int(part["Size"]))
        except (ClientError, BotoCoreError) as error:
            if _code(error) in ("NoSuchUpload", "404"):
                return None
            raise StorageAccessError(
                describe_client_error(error, self.storage.bucket, key, "ListParts")
            ) from error
        return parts


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""
