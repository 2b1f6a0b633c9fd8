"""Workers on other hosts, for real: the farm server and two workers each in a Linux network namespace
of its own, joined by veth links (the server's namespace routes nothing: each worker reaches it on
its own link, the test on a third one).

A job with attachments runs across them, its inputs and outputs through the farm's object store.
Then one worker's link is cut (set down) for longer than the worker timeout while it runs a task:
the farm reclaims its work, the other worker runs it, and when the link comes back the returning
worker's late reports are refused (it starts over), and no task has run twice to SUCCEEDED.

Needs root (network namespaces and veth links); skipped, saying why, where the kernel or the
permissions refuse them.
"""

from __future__ import annotations

import copy
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _attachment_farm import AttachmentFarm, build_attachment_farm, move_away, write_bundle, write_project
from _worker_farm import job_template, step

from farmhand.client import api, config
from farmhand.client.api import _session
from farmhand.testing import ServerProcess, WorkerProcess

pytestmark = pytest.mark.timeout(600)

WORKER_TIMEOUT_SECONDS = 10


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


def must(*args: str) -> None:
    done = ip(*args)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Network:
    """Namespaces `<p>-srv`, `<p>-w1`, `<p>-w2`; the server is 10.N.0.2 to the test, 10.N.K.1 to worker K."""

    prefix: str
    subnet: int

    def namespace(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def server_address(self, worker: int = 0) -> str:
        return f"10.{self.subnet}.{worker}.{2 if worker == 0 else 1}"

    def exec(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(name)]

    def build(self) -> None:
        p, n = self.prefix, self.subnet
        for name in ("srv", "w1", "w2"):
            must("netns", "add", self.namespace(name))
            must("-n", self.namespace(name), "link", "set", "lo", "up")
        # the test (this namespace) <-> the server
        must("link", "add", f"{p}t", "type", "veth", "peer", "name", f"{p}ts")
        must("link", "set", f"{p}ts", "netns", self.namespace("srv"))
        must("addr", "add", f"10.{n}.0.1/24", "dev", f"{p}t")
        must("link", "set", f"{p}t", "up")
        must("-n", self.namespace("srv"), "addr", "add", f"10.{n}.0.2/24", "dev", f"{p}ts")
        must("-n", self.namespace("srv"), "link", "set", f"{p}ts", "up")
        # each worker <-> the server
        for k in (1, 2):
            must("link", "add", f"{p}s{k}", "type", "veth", "peer", "name", f"{p}w{k}")
            must("link", "set", f"{p}s{k}", "netns", self.namespace("srv"))
            must("link", "set", f"{p}w{k}", "netns", self.namespace(f"w{k}"))
            must("-n", self.namespace("srv"), "addr", "add", f"10.{n}.{k}.1/24", "dev", f"{p}s{k}")
            must("-n", self.namespace("srv"), "link", "set", f"{p}s{k}", "up")
            must("-n", self.namespace(f"w{k}"), "addr", "add", f"10.{n}.{k}.2/24", "dev", f"{p}w{k}")
            must("-n", self.namespace(f"w{k}"), "link", "set", f"{p}w{k}", "up")

    def cut(self, worker: int, up: bool = False) -> None:
        """Set worker K's end of its link down (or up again): its packets go nowhere meanwhile."""
        must(
            "-n",
            self.namespace(f"w{worker}"),
            "link",
            "set",
            f"{self.prefix}w{worker}",
            "up" if up else "down",
        )

    def remove(self) -> None:
        ip("link", "del", f"{self.prefix}t")
        for name in ("srv", "w1", "w2"):
            ip("netns", "del", self.namespace(name))


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root: this test runs as uid " + str(os.geteuid()))
    network = Network(prefix=f"fh{os.getpid() % 100000}", subnet=100 + os.getpid() % 100)
    try:
        network.build()
    except (RuntimeError, FileNotFoundError) as refused:
        network.remove()
        pytest.skip(f"the kernel or the permissions refuse network namespaces here: {refused}")
    try:
        yield network
    finally:
        network.remove()


@dataclass
class Site:
    network: Network
    server: ServerProcess
    farm: AttachmentFarm
    workers: dict[int, WorkerProcess]


@pytest.fixture(scope="module")
def site(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("netns")
    server = ServerProcess(
        root / "server",
        extra_args=[
            "--host", "0.0.0.0", "--insecure-http",
            "--worker-timeout-seconds", str(WORKER_TIMEOUT_SECONDS),
        ],
        wrapper=network.exec("srv"),
    )  # fmt: skip
    server.start()
    port = server.url.rsplit(":", 1)[1]
    server.url = f"http://{network.server_address()}:{port}"  # as this namespace reaches it
    workers: dict[int, WorkerProcess] = {}
    try:
        farm = build_attachment_farm(server, root / "home")
        for k in (1, 2):
            workers[k] = WorkerProcess(
                server,
                farm.farm.farm_id,
                farm.fleets["farmhand"],
                root / f"worker-{k}",
                endpoint_url=f"http://{network.server_address(k)}:{port}",
                extra_args=["-v"],
                wrapper=network.exec(f"w{k}"),
            ).start()
        for worker in workers.values():
            worker.wait_registered(60)
        yield Site(network, server, farm, workers)
    finally:
        for worker in workers.values():
            worker.stop(timeout=30)
        server.stop()


def submit_with_attachments(site: Site, project: dict[str, str], bundle: Path) -> str:
    with pytest.MonkeyPatch.context() as env:
        for name, value in site.farm.env.items():
            env.setenv(name, value)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT")]:
            env.delenv(name)
        _session.clear_session_caches()
        try:
            settings = config.read_config()
            config.set_setting("defaults.queue_id", site.farm.queues["farmhand"], settings)
            job_id = api.create_job_from_job_bundle(
                str(bundle),
                [{"name": name, "value": value} for name, value in project.items()],
                config=settings,
                interactive_confirmation_callback=lambda message, default: True,
            )
        finally:
            _session.clear_session_caches()
    assert job_id is not None
    return str(job_id)


def test_a_job_with_attachments_runs_on_workers_in_other_namespaces(site: Site, tmp_path: Path) -> None:
    # Given a project submitted from this namespace, then moved away (workers only see uploads)
    root = tmp_path / "project"
    job_id = submit_with_attachments(site, write_project(root), write_bundle(tmp_path / "bundle"))
    move_away(root)
    # When a worker in another namespace runs it
    job = site.farm.wait("farmhand", job_id)
    # Then it succeeds, and its outputs come back through the farm's object store
    assert job["taskRunStatus"] == "SUCCEEDED", site.farm.session_logs("farmhand", job_id)
    done = site.farm.farmhand(
        "job", "download-output", *site.farm.ids("farmhand"), "--job-id", job_id, "--yes"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "renders" / "upper.txt").read_text() == "HELLO ATTACHMENTS\n"
    ran_on = {s["workerId"] for s in site.farm.farm.sessions(job_id)}
    assert ran_on <= {w.worker_id for w in site.workers.values()}


def test_a_worker_cut_off_longer_than_the_timeout_loses_its_work_and_nothing_runs_twice(site: Site) -> None:
    farm = copy.copy(site.farm.farm)  # a queue of its own, without job attachments
    farm.queue_id = farm.deadline.create_queue(farmId=farm.farm_id, displayName="plain")["queueId"]
    farm.deadline.create_queue_fleet_association(
        farmId=farm.farm_id, queueId=farm.queue_id, fleetId=farm.fleet_id
    )
    frames = step("Frames", "sleep 2; echo frame {{Task.Param.Frame}}", frames="1-10")
    job_id = farm.submit(job_template("across a cut link", frames))
    cut_off = site.workers[1]

    def running_on_cut_off() -> bool:
        return any(
            s["workerId"] == cut_off.worker_id and s["lifecycleStatus"] != "ENDED"
            for s in farm.sessions(job_id)
        )

    _wait_until(running_on_cut_off, 120)
    site.network.cut(1)
    try:
        _wait_until(
            lambda: (
                farm.deadline.get_worker(
                    farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=cut_off.worker_id
                )["status"]
                == "NOT_RESPONDING"
            ),
            WORKER_TIMEOUT_SECONDS * 6,
        )
    finally:
        site.network.cut(1, up=True)

    job = farm.wait(job_id, timeout=300)

    outcomes = [
        (a["status"], a.get("progressMessage"), a.get("processExitCode")) for a in farm.actions(job_id)
    ]
    assert job["taskRunStatus"] == "SUCCEEDED", outcomes
    runs = Counter(
        a["definition"]["taskRun"]["taskId"]
        for a in farm.actions(job_id)
        if "taskRun" in a["definition"] and a["status"] == "SUCCEEDED"
    )
    assert len(runs) == 10 and set(runs.values()) == {1}, runs
    reclaimed = [a for a in farm.actions(job_id) if a["status"] == "RECLAIMED"]
    assert reclaimed, "the cut-off worker's work was not reclaimed"
    # The returning worker's late reports are refused cleanly: it is told so and starts over.
    _wait_until(lambda: "the farm refused this worker's schedule" in cut_off.output(), 120)
    _wait_until(
        lambda: (
            farm.deadline.get_worker(farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=cut_off.worker_id)[
                "status"
            ]
            in ("STARTED", "IDLE", "RUNNING")
        ),
        120,
    )
    assert not [line for line in site.server.output if "Traceback" in line], "".join(site.server.output)


def _wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)
