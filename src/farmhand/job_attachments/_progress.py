"""Progress of hashing and transfers: what the callbacks receive, and the summary at the end.

`ProgressReportMetadata` has the fields of the AWS library's (status, progress in percent by
bytes, transferRate in bytes/s, progressMessage, processedFiles). A callback runs at most about
once a second, or when a chunk of files is done, and at the end; returning False cancels the
operation: the tracker raises TransferCancelledError in the threads doing the work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._errors import TransferCancelledError

__all__ = [
    "ProgressCallback",
    "ProgressReportMetadata",
    "ProgressStatus",
    "ProgressTracker",
    "SummaryStatistics",
    "human_readable_size",
]

CALLBACK_INTERVAL_SECONDS = 1.0
FILES_PER_CHUNK = 50


class ProgressStatus(StrEnum):
    NONE = "NONE"
    PREPARING_IN_PROGRESS = "PREPARING_IN_PROGRESS"
    UPLOAD_IN_PROGRESS = "UPLOAD_IN_PROGRESS"
    DOWNLOAD_IN_PROGRESS = "DOWNLOAD_IN_PROGRESS"
    SNAPSHOT_IN_PROGRESS = "SNAPSHOT_IN_PROGRESS"

    def __str__(self) -> str:
        return self.value


_VERBS = {
    ProgressStatus.NONE: "Processed",
    ProgressStatus.PREPARING_IN_PROGRESS: "Hashed",
    ProgressStatus.UPLOAD_IN_PROGRESS: "Uploaded",
    ProgressStatus.DOWNLOAD_IN_PROGRESS: "Downloaded",
    ProgressStatus.SNAPSHOT_IN_PROGRESS: "Snapshotted",
}


@dataclass
class ProgressReportMetadata:
    """What the hashing, upload and download progress callbacks receive."""

    status: ProgressStatus | str
    progress: float
    transferRate: float
    progressMessage: str
    processedFiles: int = 0


ProgressCallback = Callable[[ProgressReportMetadata], Any]


def human_readable_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} TB"


@dataclass
class SummaryStatistics:
    """Totals of one hashing or transfer: processed (hashed, sent) and skipped (cached, present)."""

    total_time: float = 0.0
    total_files: int = 0
    total_bytes: int = 0
    processed_files: int = 0
    processed_bytes: int = 0
    skipped_files: int = 0
    skipped_bytes: int = 0
    transfer_rate: float = 0.0

    def aggregate(self, other: SummaryStatistics) -> SummaryStatistics:
        self.total_time += other.total_time
        self.total_files += other.total_files
        self.total_bytes += other.total_bytes
        self.processed_files += other.processed_files
        self.processed_bytes += other.processed_bytes
        self.skipped_files += other.skipped_files
        self.skipped_bytes += other.skipped_bytes
        self.transfer_rate = self.processed_bytes / self.total_time if self.total_time else 0.0
        return self

    def __str__(self) -> str:
        plural = "" if self.processed_files == 1 else "s"
        return (
            f"Processed {self.processed_files} file{plural} totaling "
            f"{human_readable_size(self.processed_bytes)}.\n"
            f"Skipped re-processing {self.skipped_files} files totaling "
            f"{human_readable_size(self.skipped_bytes)}.\n"
            f"Total processing time of {round(self.total_time, 5)} seconds at "
            f"{human_readable_size(int(self.transfer_rate))}/s.\n"
        )


class ProgressTracker:
    """Counts work from any thread and reports it to one callback, throttled."""

    def __init__(
        self,
        status: ProgressStatus,
        total_files: int,
        total_bytes: int,
        callback: ProgressCallback | None = None,
    ) -> None:
        self.status = status
        self.callback = callback
        self.stats = SummaryStatistics(total_files=total_files, total_bytes=total_bytes)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_report = self._started
        self._last_bytes = 0
        self._files_since_report = 0
        self._chunk = FILES_PER_CHUNK if total_files >= FILES_PER_CHUNK else 1
        self._reported_done = False  # the last report already said 100%
        self.cancelled = False

    def check(self) -> None:
        """Raise TransferCancelledError once a callback asked to stop."""
        if self.cancelled:
            raise TransferCancelledError(f"{_VERBS[self.status].lower()} canceled by the progress callback")

    def add_bytes(self, count: int) -> None:
        """Bytes of files still in progress (a big upload reports as it goes)."""
        with self._lock:
            self.stats.processed_bytes += count
        self._maybe_report(file_done=False)

    def file_done(self, size: int, *, skipped: bool = False, bytes_counted: bool = False) -> None:
        with self._lock:
            if skipped:
                self.stats.skipped_files += 1
                self.stats.skipped_bytes += size
            else:
                self.stats.processed_files += 1
                if not bytes_counted:
                    self.stats.processed_bytes += size
            self._files_since_report += 1
        self._maybe_report(file_done=True)

    def _maybe_report(self, *, file_done: bool) -> None:
        if self.callback is None:
            self.check()
            return
        now = time.monotonic()
        with self._lock:
            due = now - self._last_report >= CALLBACK_INTERVAL_SECONDS or (
                file_done and self._files_since_report >= self._chunk
            )
            if not due:
                return
            report = self._report(now)
        self._deliver(report)

    def _report(self, now: float) -> ProgressReportMetadata:
        """Build a report and reset the interval counters (call with the lock held)."""
        stats = self.stats
        done_bytes = stats.processed_bytes + stats.skipped_bytes
        elapsed = max(now - self._last_report, 1e-6)
        rate = (stats.processed_bytes - self._last_bytes) / elapsed
        self._last_report, self._last_bytes, self._files_since_report = now, stats.processed_bytes, 0
        if stats.total_bytes:
            percent = min(100.0, round(100.0 * done_bytes / stats.total_bytes, 1))
        else:
            done_files = stats.processed_files + stats.skipped_files
            percent = 100.0 if not stats.total_files else round(100.0 * done_files / stats.total_files, 1)
        label = "Hashing speed" if self.status == ProgressStatus.PREPARING_IN_PROGRESS else "Transfer rate"
        message = (
            f"{_VERBS[self.status]} {human_readable_size(done_bytes)} / "
            f"{human_readable_size(stats.total_bytes)} of {stats.total_files} "
            f"file{'' if stats.total_files == 1 else 's'} ({label}: {human_readable_size(rate)}/s)"
        )
        return ProgressReportMetadata(
            status=self.status,
            progress=percent,
            transferRate=rate,
            progressMessage=message,
            processedFiles=stats.processed_files + stats.skipped_files,
        )

    def _deliver(self, report: ProgressReportMetadata) -> None:
        assert self.callback is not None
        self._reported_done = report.progress >= 100.0
        if self.callback(report) is False:
            self.cancelled = True
        self.check()

    def finish(self) -> SummaryStatistics:
        """The final report (100%) and the summary."""
        now = time.monotonic()
        with self._lock:
            self.stats.total_time = now - self._started
            elapsed = self.stats.total_time
            self.stats.transfer_rate = self.stats.processed_bytes / elapsed if elapsed > 0 else 0.0
            report = self._report(now)
        report.progress = 100.0
        if self.callback is not None and not self._reported_done:
            self._deliver(report)
        return self.stats
