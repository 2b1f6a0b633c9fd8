"""The supervisor's restart backoff grows while a child keeps dying quickly and resets after a good run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from farmhand.local._restart_backoff import RestartBackoff
from farmhand.local._supervisor import _Child


def test_quick_deaths_back_off_up_to_the_cap() -> None:
    backoff = RestartBackoff()
    assert [backoff.delay_after(0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_long_run_resets_the_backoff() -> None:
    # Given a child whose first minutes were a string of quick deaths
    backoff = RestartBackoff(reset_after_seconds=60)
    for _ in range(6):
        backoff.delay_after(1)
    # When it then runs for an hour and dies, and dies quickly once more
    after_long_run = backoff.delay_after(3600)
    next_quick = backoff.delay_after(1)
    # Then it is restarted after a second, and the next quick death costs two, not thirty
    assert (after_long_run, next_quick) == (1, 2)


def test_a_run_between_quick_and_reset_neither_resets_nor_grows() -> None:
    backoff = RestartBackoff(quick_seconds=10, reset_after_seconds=60)
    ran = [1, 1, 30, 1]
    assert [backoff.delay_after(seconds) for seconds in ran] == [1, 2, 1, 8]


def test_a_supervised_process_that_ran_past_the_reset_time_restarts_at_once(tmp_path: Path) -> None:
    # Given a supervised child process that died quickly six times in a row
    quick = [sys.executable, "-c", "pass"]
    child = _Child("worker 1", quick, tmp_path / "child.log", {}, backoff_reset_seconds=1.0)
    delays = []
    for _ in range(6):
        child.start()
        assert child.process is not None
        child.process.wait(30)
        delays.append(child.schedule_restart())
    assert delays[-1] == 30
    # When it is started again and runs past the reset time before it dies
    child.command = [sys.executable, "-c", "import time; time.sleep(1.5)"]
    child.start()
    assert child.process is not None
    child.process.wait(30)
    # Then its restart is scheduled a second later, not after the thirty seconds it had built up
    assert child.schedule_restart() == 1
    assert child.next_start - time.monotonic() <= 1
    child.close_log()
