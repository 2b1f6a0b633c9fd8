"""Idle long polls that need no schedule transaction.

An idle worker's long poll ends every wait and comes straight back; with thousands of idle workers
those returns are most of what a server does. When nothing that could give the worker work has
happened since its last attempt found none (the work signal's generation has not moved: every
write that can make work ready moves it, on any server of the farm), a new attempt would find none
again. Such a poll is authorized like any call, its heartbeat is kept and written with the others
of the last moment in one statement, and it waits at once with the answer the last attempt gave.

Most moves of the generation are new work somewhere (a job submitted, a task finished or requeued):
with thousands of idle workers and work coming in, every poll would then run the full attempt. So
when the generation has moved only through such calls (`WORK_ONLY_OPERATIONS`) since an answer was
given, one read (does a queue the fleet serves have a job with READY tasks, the options a worker with
no session is given work from?) decides: if none, the answer still holds, and that read holds for the
fleet until the generation moves again (work can only appear with a move). Any other call that moves
the generation (a fleet, queue or association changed, say) sets a barrier: answers given before it
are never carried past it.

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
from ._assign import fleet_has_ready_job

__all__ = ["WORK_ONLY_OPERATIONS", "IdlePolls", "WorkerKey"]

#: Deadline calls that move the generation only by making work READY or taking it away from sessions
#: (of other workers: an idle worker has none). Nothing else an idle worker is told depends on them.
WORK_ONLY_OPERATIONS = frozenset(
    {"CreateJob", "UpdateJob", "UpdateStep", "UpdateTask", "UpdateWorkerSchedule"}
)

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
        # Answers given at a generation below this are not carried past a move (see `changed`).
        self._barrier = 0
        # (farm, fleet) -> the generation at which a read found no READY job for the fleet.
        self._no_work_at: dict[tuple[str, str], int] = {}

    def remember(self, key: WorkerKey, generation: int, output: dict[str, Any], wait: float) -> None:
        """An attempt at `generation` found no work for this worker and had nothing to tell it."""
        if not self.enabled:
            return
        with self._lock:
            self._answers[key[2]] = _Remembered(key, generation, output, wait, time.monotonic())

    def forget(self, worker_id: str) -> None:
        with self._lock:
            self._answers.pop(worker_id, None)

    def changed(self, generation: int) -> None:
        """A call other than the `WORK_ONLY_OPERATIONS` committed and is about to move the generation
        past `generation` (read after its commit): no answer given before is carried past it."""
        with self._lock:
            self._barrier = max(self._barrier, generation + 1)
            self._no_work_at.clear()

    def answer(self, key: WorkerKey, generation: int) -> tuple[dict[str, Any], float] | None:
        """The answer an attempt now would give, and its wait, if nothing that concerns this worker
        has moved since the last (`generation`: the work signal's, read before calling)."""
        fleet = (key[0], key[1])
        with self._lock:
            known = self._answers.get(key[2])
            if known is None:
                return None
            if (
                known.key != key
                or time.monotonic() - known.at >= self.max_age
                or known.generation < self._barrier
            ):
                del self._answers[key[2]]
                return None
            settled = known.generation == generation or self._no_work_at.get(fleet) == generation
        if not settled:
            with self.store.read() as conn:
                work = fleet_has_ready_job(conn, *fleet)
            with self._lock:
                if work or known.generation < self._barrier:
                    self._answers.pop(key[2], None)
                    return None
                self._no_work_at[fleet] = generation
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
