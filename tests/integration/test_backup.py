"""`farmhand backup`: a consistent copy of a running SQLite farm, which a server starts from."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from _synthetic_workers import farm_with_fleet, job_template, step, submit

from farmhand.testing import ServerProcess

FARMHAND = str(Path(sys.executable).with_name("farmhand"))


def farmhand(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FARMHAND, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )


def test_a_backup_taken_while_the_farm_works_starts_a_farm_with_everything_acknowledged_before_it(
    tmp_path: Path,
) -> None:
    target = tmp_path / "backup"
    with ServerProcess(tmp_path / "farm") as live:
        deadline = live.client("deadline")
        farm_id, queue_id, _ = farm_with_fleet(deadline)
        job_id = submit(deadline, farm_id, queue_id, job_template(step("Work", tasks=5000)))
        acknowledged: list[str] = []
        stop = threading.Event()

        def keep_writing() -> None:
            while not stop.is_set():
                acknowledged.append(deadline.create_farm(displayName="written meanwhile")["farmId"])

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            while len(acknowledged) < 3:
                stop.wait(0.05)
            before = list(acknowledged)
            result = farmhand("backup", str(target), "--data-dir", str(live.data_dir))
        finally:
            stop.set()
            writer.join()
        assert result.returncode == 0, result.stderr
        assert "farmhand.db" in result.stdout

    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for path in target.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with ServerProcess(target) as restored:
        deadline = restored.client("deadline")
        farms = {
            f["farmId"] for page in deadline.get_paginator("list_farms").paginate() for f in page["farms"]
        }
        assert {farm_id, *before} <= farms
        job = deadline.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        assert job["taskRunStatusCounts"]["READY"] == 5000


def test_a_backup_refuses_a_directory_that_is_not_empty_and_a_dir_without_a_farm(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    (tmp_path / "farmless").mkdir()
    refused = farmhand("backup", str(tmp_path / "full"), "--data-dir", str(tmp_path / "farmless"))
    assert refused.returncode != 0 and "no SQLite farm" in refused.stderr
    with ServerProcess(tmp_path / "farm") as live:
        refused = farmhand("backup", str(tmp_path / "full"), "--data-dir", str(live.data_dir))
        assert refused.returncode != 0 and "not empty" in refused.stderr
