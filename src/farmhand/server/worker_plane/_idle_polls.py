"""Idle long polls that need no schedule transaction.

An idle worker's long poll ends every wait and comes straight back; with thousands of idle workers
those returns are most of what a server does. When nothing that could give the worker work has
happened since its last attempt found none (the work signal's generation has not moved: every
write that can make work ready moves it, on any server of the farm), a new attempt would find none
again. Such a poll is authorized like any call, its heartbeat is kept and written with the others
of the last moment in one statement, and it waits at once with the answer the last attempt gave.

A remembered answer is good for half the worker timeout: a worker declared silent meanwhile (and so
NOT_RESPONDING) comes back after longer than that and gets the full attempt and its
STATUS_CONFLICT. Any other call naming the worker (UpdateWorker, say) forgets it.

Only on a farm of one server (SQLite): there a worker is given sessions only by its own schedule
calls to this server, which forget its answer. With several servers a worker handed a session by
another one (handing out work moves no generation) would be told here it has none.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, or_, update

from ..store import Store, workers

__all__ = ["IdlePolls", "WorkerKey"]

WorkerKey = tuple[str, str, str]  # farm, fleet, worker


@dataclass(frozen=True, slots=True)
class _Remembered:
    key: WorkerKey
    generation: int
    output: dict[str, Any]
    wait: float
    at: float  # monotonic time of the attempt


class IdlePolls:
    """The last empty answer of each idle worker, and the heartbeats of the polls it answered."""

    def __init__(self, store: Store, worker_timeout: float, *, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self.max_age = worker_timeout / 2
        self.flush_interval = min(1.0, worker_timeout / 10)
        self._lock = threading.Lock()
        self._answers: dict[str, _Remembered] = {}  # by worker id
        self._beats: dict[str, dt.datetime] = {}

    def remember(self, key: WorkerKey, generation: int, output: dict[str, Any], wait: float) -> None:
        """An attempt at `generation` found no work for this worker and had nothing to tell it."""
        if not self.enabled:
            return
        with self._lock:
            self._answers[key[2]] = _Remembered(key, generation, output, wait, time.monotonic())

    def forget(self, worker_id: str) -> None:
        with self._lock:
            self._answers.pop(worker_id, None)

    def answer(self, key: WorkerKey, generation: int) -> tuple[dict[str, Any], float] | None:
        """The answer an attempt now would give, and its wait, if nothing has moved since the last."""
        with self._lock:
            known = self._answers.get(key[2])
            if known is None:
                return None
            if (
                known.key != key
                or known.generation != generation
                or time.monotonic() - known.at >= self.max_age
            ):
                del self._answers[key[2]]
                return None
        output = {**known.output, "assignedSessions": {}, "cancelSessionActions": {}}
        return output, known.wait

    def beat(self, worker_id: str, now: dt.datetime) -> None:
        """The worker was heard from now (written by the next `flush`)."""
        with self._lock:
            self._beats[worker_id] = now

    def flush(self) -> None:
        """Write the heartbeats kept since the last flush, in one statement (never moving a worker's
        last_seen_at back); kept for the next flush if the store is away."""
        with self._lock:
            beats, self._beats = self._beats, {}
        if not beats:
            return
        try:
            with self.store.write() as conn:
                conn.execute(
                    update(workers)
                    .where(
                        and_(
                            workers.c.worker_id == bindparam("beat_worker"),
                            or_(
                                workers.c.last_seen_at.is_(None),
                                workers.c.last_seen_at < bindparam("beat_at"),
                            ),
                        )
                    )
                    .values(last_seen_at=bindparam("beat_at")),
                    [{"beat_worker": w, "beat_at": at} for w, at in beats.items()],
                )
        except Exception:
            with self._lock:
                for worker_id, at in beats.items():
                    self._beats.setdefault(worker_id, at)
            raise
