"""How long a task's process tree outlives its worker agent killed with SIGKILL.

A real server and a real `farmhand worker`; each round the worker runs a task that starts a tree
(background children, a grandchild, a daemon in its own session, a child with an empty environment),
the agent is killed with `kill -9`, and the figure is the time until every process of the tree is
gone. The agent is then started again on the same data dir for the next round.

    .venv/bin/python benchmarks/worker_kill.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))


def alive(pids: list[int]) -> list[int]:
    import psutil

    found = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_for(condition: object, timeout: float) -> None:
    give_up = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > give_up:
            raise RuntimeError("timed out")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from _worker_farm import Farm, job_template, step
    from test_worker_task_processes import tree_command

    from farmhand.testing import ServerProcess

    root = Path(tempfile.mkdtemp(prefix="farmhand-bench-kill-"))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} at start")
    figures = []
    with ServerProcess(root / "server") as server:
        farm = Farm(server)
        for round_number in range(args.rounds):
            work = root / f"work-{round_number}"
            work.mkdir()
            worker = farm.worker(root / "worker")
            farm.submit(job_template(f"tree {round_number}", step("Work", tree_command(work))))
            wait_for(lambda work=work: (work / "ready").exists(), 120)  # type: ignore[misc]
            pids = [int(line) for line in (work / "pids").read_text().split()]
            killed_at = time.monotonic()
            worker.kill()
            wait_for(lambda pids=pids: not alive(pids), 60)  # type: ignore[misc]
            figures.append(time.monotonic() - killed_at)
            took = figures[-1]
            print(f"round {round_number + 1}: {len(pids)} task processes gone {took:.3f} s after kill -9")
            worker = farm.worker(root / "worker")  # takes the re-run; stopped before the next round
            worker.wait_registered()
            worker.stop(timeout=30)
    print(
        json.dumps(
            {
                "rounds": len(figures),
                "min_s": round(min(figures), 3),
                "median_s": round(statistics.median(figures), 3),
                "max_s": round(max(figures), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
