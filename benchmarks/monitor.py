"""Web monitor figures on a real server (no workers): what open pages cost, how fast a change reaches
them, and how fast the big lists show their first page.

1. Idle pages: the server's CPU time and resident memory over a quiet window with no page open, then
   with N pages open (each holds the event stream, the only thing an idle page keeps), side by side.
2. Live updates: with the N pages open, the time from a committed change (UpdateJob) to its event on
   every page (median and slowest).
3. Paging: a queue of 10,000 jobs and a job of 100,000 tasks; the first page as the monitor's script
   asks for it (SearchJobs / ListTasks through the cookie-authenticated API), and in headless
   Chromium the time from navigation to the rendered table (the number that matters: ≤ 1 s).

    .venv/bin/python benchmarks/monitor.py                 # 50 pages, 10,000 jobs, 100,000 tasks
    .venv/bin/python benchmarks/monitor.py --quick         # 10 pages, 1,000 jobs, 10,000 tasks
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import psutil  # noqa: E402

from _chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from _monitor_farm import PASSWORD, PageSession, create_farm_user  # noqa: E402
from farmhand.testing import ServerProcess  # noqa: E402


def template(name: str, tasks: int) -> str:
    return json.dumps(
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": name,
            "steps": [
                {
                    "name": "Render",
                    "parameterSpace": {
                        "taskParameterDefinitions": [{"name": "Frame", "type": "INT", "range": f"1-{tasks}"}]
                    },
                    "script": {"actions": {"onRun": {"command": "echo", "args": ["{{Task.Param.Frame}}"]}}},
                }
            ],
        }
    )


class EventStream:
    """One open page's event stream, read on a thread; `changes` holds (arrival time, counters)."""

    def __init__(self, url: str, cookies: str) -> None:
        self.connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=600)
        self.connection.request("GET", "/monitor/events", headers={"Cookie": cookies})
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.status
        self.socket = self.connection.sock
        self.changes: list[tuple[float, dict[str, Any]]] = []
        self.hello = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        name = ""
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    if name == "hello":
                        self.hello.set()
                    elif name == "change":
                        self.changes.append((time.perf_counter(), json.loads(line[6:])))
        except (OSError, ValueError, AttributeError):
            pass  # the stream was closed

    def close(self) -> None:
        """Shut the socket (the reading thread sees the end and stops; closing the response under it
        would wait for that thread's lock)."""
        self.socket.shutdown(socket.SHUT_RDWR)


def cpu_and_rss(process: psutil.Process, seconds: float) -> tuple[float, float]:
    """CPU seconds the server used over a window of `seconds`, and its RSS (MiB) at the end."""
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return used, process.memory_info().rss / 2**20


def idle_pages(server: ServerProcess, page: PageSession, pages: int, window: float) -> list[EventStream]:
    process = psutil.Process(server.process.pid)  # type: ignore[union-attr]
    cpu0, rss0 = cpu_and_rss(process, window)
    cookies = f"farmhand_session={page.cookie('farmhand_session')}; farmhand_csrf={page.csrf}"
    streams = [EventStream(server.url, cookies) for _ in range(pages)]
    for stream in streams:
        stream.hello.wait(30)
    time.sleep(1.0)
    cpu1, rss1 = cpu_and_rss(process, window)
    print(
        f"idle server, {window:.0f} s window:      no page open: "
        f"CPU {cpu0:.3f} s ({100 * cpu0 / window:.2f} %), RSS {rss0:.1f} MiB"
    )
    print(
        f"                             {pages} pages open: "
        f"CPU {cpu1:.3f} s ({100 * cpu1 / window:.2f} %), RSS {rss1:.1f} MiB"
    )
    print(
        f"  per open page: {1000 * (cpu1 - cpu0) / pages / window:.3f} ms CPU per second, "
        f"{1024 * (rss1 - rss0) / pages:.0f} KiB RSS"
    )
    return streams


def change_latency(
    admin: Any, farm: str, queue: str, job: str, streams: list[EventStream], rounds: int
) -> None:
    delays: list[float] = []
    for priority in range(rounds):
        seen = [len(s.changes) for s in streams]
        started = time.perf_counter()
        admin.update_job(farmId=farm, queueId=queue, jobId=job, priority=priority % 100)
        limit = time.monotonic() + 10
        while (
            any(len(s.changes) == n for s, n in zip(streams, seen, strict=True)) and time.monotonic() < limit
        ):
            time.sleep(0.005)
        delays += [
            s.changes[n][0] - started for s, n in zip(streams, seen, strict=True) if len(s.changes) > n
        ]
        time.sleep(0.3)
    delays.sort()
    print(
        f"change -> event on {len(streams)} pages ({rounds} changes): "
        f"median {1000 * statistics.median(delays):.0f} ms, "
        f"95th {1000 * delays[int(0.95 * (len(delays) - 1))]:.0f} ms, slowest {1000 * delays[-1]:.0f} ms "
        "(150 ms of it is the coalescing wait)"
    )


def timed(call: Any, repeat: int = 5) -> float:
    """Best of `repeat` (seconds): the machine is shared, the best run is the code's own cost."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def browser_first_page(url: str, user: Any, targets: list[tuple[str, str, str]]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url + "/")
        page.get_by_label("User name").fill(user.name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/")
        for label, path, selector in targets:
            times = []
            for _ in range(3):
                started = time.perf_counter()
                page.goto(url + path)
                page.locator(selector).first.wait_for(timeout=60_000)
                times.append(time.perf_counter() - started)
            print(
                f"Chromium, navigation to rendered table, {label}: "
                f"best {min(times):.3f} s, worst {max(times):.3f} s"
            )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pages", type=int)
    parser.add_argument("--window", type=float, default=30.0, help="seconds of each idle window")
    args = parser.parse_args()
    pages = args.pages or (10 if args.quick else 50)
    job_count = 1_000 if args.quick else 10_000
    task_count = 10_000 if args.quick else 100_000
    print("load before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    with (
        tempfile.TemporaryDirectory(prefix="farmhand-bench-") as directory,
        ServerProcess(Path(directory)) as server,
    ):
        admin = server.client("deadline")
        farm = admin.create_farm(displayName="bench")["farmId"]
        queue = admin.create_queue(farmId=farm, displayName="jobs")["queueId"]
        big_queue = admin.create_queue(farmId=farm, displayName="big job")["queueId"]
        user = create_farm_user(server.boto3_session(), server.url, farm, "VIEWER", "bench")
        page = PageSession(server, user)
        one = admin.create_job(
            farmId=farm, queueId=queue, template=template("one", 1), templateType="JSON", priority=50
        )["jobId"]

        streams = idle_pages(server, page, pages, args.window)
        change_latency(admin, farm, queue, one, streams, 20)
        for stream in streams:
            stream.close()

        started = time.perf_counter()
        small = template("small", 1)
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: admin.create_job(
                        farmId=farm, queueId=queue, template=small, templateType="JSON", priority=i % 100
                    ),
                    range(job_count - 1),
                )
            )
        print(f"created {job_count} jobs in {time.perf_counter() - started:.1f} s")
        big = admin.create_job(
            farmId=farm,
            queueId=big_queue,
            template=template("big", task_count),
            templateType="JSON",
            priority=50,
        )["jobId"]
        while (
            admin.get_job(farmId=farm, queueId=big_queue, jobId=big)["lifecycleStatus"] != "CREATE_COMPLETE"
        ):
            time.sleep(0.5)
        step = admin.list_steps(farmId=farm, queueId=big_queue, jobId=big)["steps"][0]["stepId"]

        search = {
            "queueIds": [queue],
            "itemOffset": 0,
            "pageSize": 50,
            "sortExpressions": [{"fieldSort": {"name": "CREATED_AT", "sortOrder": "DESCENDING"}}],
        }
        jobs_path = f"/2023-10-12/farms/{farm}/search/jobs"

        def best_ms(method: str, path: str, body: Any = None) -> float:
            """The best time of the monitor's call, in ms."""
            return 1000 * timed(lambda: page.call(method, path, body))

        status, _, found = page.call("POST", jobs_path, search)
        assert status == 200 and found["totalResults"] == job_count, (status, found.get("totalResults"))
        print(
            f"SearchJobs first page of {job_count} jobs (monitor call): "
            f"best {best_ms('POST', jobs_path, search):.1f} ms"
        )
        last = {**search, "itemOffset": min(10_000, job_count) - 50}
        print(
            f"SearchJobs page at offset {last['itemOffset']}: best {best_ms('POST', jobs_path, last):.1f} ms"
        )
        failed = {
            **search,
            "filterExpressions": {
                "operator": "AND",
                "filters": [
                    {"stringFilter": {"name": "TASK_RUN_STATUS", "operator": "EQUAL", "value": "READY"}}
                ],
            },
        }
        print(f"SearchJobs filtered by status: best {best_ms('POST', jobs_path, failed):.1f} ms")
        tasks_path = (
            f"/2023-10-12/farms/{farm}/queues/{big_queue}/jobs/{big}/steps/{step}/tasks?maxResults=100"
        )
        print(f"ListTasks first page of {task_count} tasks: best {best_ms('GET', tasks_path):.1f} ms")
        token = None
        started = time.perf_counter()
        for _ in range(20):
            _, _, answer = page.call(
                "GET", tasks_path + (f"&nextToken={urllib.parse.quote(token)}" if token else "")
            )
            token = answer["nextToken"]
        print(
            f"ListTasks, 20 pages one after another: "
            f"{1000 * (time.perf_counter() - started) / 20:.1f} ms a page"
        )
        task_search = {
            "queueIds": [big_queue],
            "jobId": big,
            "itemOffset": 9_900,
            "pageSize": 100,
            "filterExpressions": {
                "operator": "AND",
                "filters": [
                    {"stringFilter": {"name": "STEP_ID", "operator": "EQUAL", "value": step}},
                    {"stringFilter": {"name": "TASK_RUN_STATUS", "operator": "EQUAL", "value": "READY"}},
                ],
            },
        }
        print(
            f"SearchTasks by status at offset 9,900: "
            f"best {best_ms('POST', f'/2023-10-12/farms/{farm}/search/tasks', task_search):.1f} ms"
        )

        browser_first_page(
            server.url,
            user,
            [
                (f"queue of {job_count} jobs", f"/farms/{farm}/queues/{queue}", "table.jobs tbody tr"),
                (
                    f"step of {task_count} tasks",
                    f"/farms/{farm}/queues/{big_queue}/jobs/{big}/steps/{step}",
                    "table.tasks tbody tr",
                ),
                (
                    f"job of {task_count} tasks",
                    f"/farms/{farm}/queues/{big_queue}/jobs/{big}",
                    "table.grid tbody tr",
                ),
            ],
        )
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
