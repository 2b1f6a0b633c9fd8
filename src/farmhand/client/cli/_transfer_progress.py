"""Progress bars for hashing, uploading and downloading job attachments.

Shown on stderr when it is a terminal; elsewhere the bars stay silent (the summary lines the library
prints are enough for a log). The display starts with the first report, after any confirmation
prompt, so a prompt never competes with a live display.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ._output import err_console

__all__ = ["TransferProgress"]


class TransferProgress:
    """`with TransferProgress() as progress:` then pass `progress.hashing` / `progress.uploading`."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> TransferProgress:
        return self

    def _start(self) -> None:
        console = err_console()
        if self._progress is None and console.is_terminal:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

            self._progress = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[message]}"),
                console=console,
                transient=True,
            )
            self._progress.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _report(self, label: str, metadata: Any) -> bool:
        progress = float(getattr(metadata, "progress", 0.0))
        if label not in self._tasks and progress >= 100.0:
            return True  # finished at once (nothing to transfer): not worth a bar
        self._start()
        if self._progress is not None:
            if label not in self._tasks:
                self._tasks[label] = self._progress.add_task(label, total=100.0, message="")
            self._progress.update(
                self._tasks[label],
                completed=progress,
                message=str(getattr(metadata, "progressMessage", "")),
            )
        return True  # keep going: the CLI cancels with Ctrl-C, not from here

    def hashing(self, metadata: Any) -> bool:
        return self._report("Hashing", metadata)

    def uploading(self, metadata: Any) -> bool:
        return self._report("Uploading", metadata)

    def downloading(self, metadata: Any) -> bool:
        return self._report("Downloading", metadata)
