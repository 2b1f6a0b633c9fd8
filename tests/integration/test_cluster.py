"""Two farm servers on one PostgreSQL database are one farm: any server answers any call.

Real server processes on a throw-away PostgreSQL cluster, real farmhand workers (some behind a TCP
load balancer that fails them over), real boto3 clients.
"""

from __future__ import annotations

import copy
import json
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from _synthetic_workers import credentials_session
from _worker_farm import Farm, job_template, step
from botocore.exceptions import ClientError

from _balancer import Balancer
from farmhand.testing import ServerProcess, WorkerProcess

pytestmark = pytest.mark.timeout(600)

WORKER_TIMEOUT_SECONDS = 8


def start_nodes(url: str, root: Path, *, worker_timeout: float) -> tuple[ServerProcess, ServerProcess]:
    """Nodes A and B: separate data dirs, the same database and farm secret, started at the same moment."""
    args = ["--worker-timeout-seconds", str(worker_timeout)]
    env = {"FARMHAND_SECRET_KEY": secrets.token_urlsafe(32)}
    a = ServerProcess(root / "node-a", database_url=url, extra_args=args, env=env)
    b = ServerProcess(root / "node-b", database_url=url, extra_args=args, env=env)
    starting = [threading.Thread(target=n.start) for n in (a, b)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    if not (a.url and b.url):
        a.stop()
        b.stop()
        raise AssertionError("a node did not start:\n" + "".join(a.output + b.output))
    return a, b


@pytest.fixture
def two_nodes(pg_cluster: Any, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two nodes that reclaim the work of a worker silent for 8 s."""
    a, b = start_nodes(pg_cluster.new_database(), tmp_path, worker_timeout=WORKER_TIMEOUT_SECONDS)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def worker(farm: Farm, data_dir: Path, endpoint_url: str) -> WorkerProcess:
    return WorkerProcess(
        farm.server, farm.farm_id, farm.fleet_id, data_dir, endpoint_url=endpoint_url, extra_args=["-v"]
    ).start()


def succeeded_runs_per_task(farm: Farm, job_id: str) -> Counter[str]:
    return Counter(
        a["definition"]["taskRun"]["taskId"]
        for a in farm.actions(job_id)
        if "taskRun" in a["definition"] and a["status"] == "SUCCEEDED"
    )


def test_nodes_started_together_on_an_empty_database_share_one_admin_and_one_account(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_nodes
    assert a.admin == b.admin
    farm_id = a.client("deadline").create_farm(displayName="seen from both")["farmId"]
    assert b.client("deadline").get_farm(farmId=farm_id)["displayName"] == "seen from both"
    assert (
        a.client("sts").get_caller_identity()["Account"] == b.client("sts").get_caller_identity()["Account"]
    )


def test_a_job_submitted_on_one_node_wakes_an_idle_worker_polling_the_other(
    pg_cluster: Any, tmp_path: Path
) -> None:
    """The worker's long poll waits on node B for up to 20 s; the jobs are created on node A."""
    a, b = start_nodes(pg_cluster.new_database(), tmp_path, worker_timeout=60)
    try:
        farm = Farm(a)
        agent = WorkerProcess(
            a,
            farm.farm_id,
            farm.fleet_id,
            tmp_path / "w",
            endpoint_url=b.url,
            extra_args=["--poll-wait-seconds", "20"],
        ).start()
        agent.wait_registered()
        delays = []
        for n in range(3):
            time.sleep(4 + n)  # the worker is idle, holding a long poll on node B
            job_id = farm.submit(job_template(f"ping {n}", step("Ping", "echo ping")))
            created = farm.job(job_id)["createdAt"]
            assert farm.wait(job_id, timeout=60)["taskRunStatus"] == "SUCCEEDED"
            (session,) = farm.sessions(job_id)
            delays.append((session["startedAt"] - created).total_seconds())
        agent.stop()
        # Without the wake-up across nodes, a job waits for the poll to end on its own (up to 20 s).
        assert statistics.median(delays) < 1.0, delays
    finally:
        a.stop()
        b.stop()


def test_the_same_client_token_on_both_nodes_creates_one_job(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    """Calls with one client token sent to both nodes at once (no SDK retries): one job, no errors."""
    a, b = two_nodes
    farm = Farm(a)
    # Thousands of tasks: a CreateJob transaction long enough for the calls to overlap.
    template = json.dumps(job_template("once", step("Once", "true", frames="1-5000")))
    clients = [s.client("deadline", retries={"total_max_attempts": 1}) for s in (a, b)]
    for round_ in range(3):
        results = create_together(clients * 2, f"token-{round_}", farm, template)
        assert len(results) == 4 and len(set(map(str, results))) == 1, results
    jobs = farm.deadline.search_jobs(farmId=farm.farm_id, queueIds=[farm.queue_id], itemOffset=0)["jobs"]
    assert len(jobs) == 3


def create_together(clients: list[Any], token: str, farm: Farm, template: str) -> list[Any]:
    """CreateJob by every client at the same moment; their job ids (or errors)."""
    results: list[Any] = []
    together = threading.Barrier(len(clients))

    def create(client: Any) -> None:
        together.wait()
        try:
            answer = client.create_job(
                farmId=farm.farm_id,
                queueId=farm.queue_id,
                template=template,
                templateType="JSON",
                priority=50,
                clientToken=token,
            )
            results.append(answer["jobId"])
        except ClientError as error:
            results.append(error.response["Error"])

    threads = [threading.Thread(target=create, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_signing_out_on_one_node_is_refused_at_once_by_the_other(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    """Deleting a key on node A evicts it from node B's cache of signing keys (a notification)."""
    a, b = two_nodes
    farm = Farm(a)
    worker_id = farm.deadline.create_worker(farmId=farm.farm_id, fleetId=farm.fleet_id)["workerId"]
    credentials = farm.deadline.assume_fleet_role_for_worker(
        farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=worker_id
    )["credentials"]
    on_b = b.client("deadline", session=credentials_session(credentials))
    on_b.get_worker(farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=worker_id)  # cached on B now
    _delete_access_key(a, credentials["accessKeyId"])
    time.sleep(0.5)
    with pytest.raises(ClientError) as refused:
        on_b.get_worker(farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=worker_id)
    assert refused.value.response["Error"]["Code"] in ("UnrecognizedClientException", "AccessDeniedException")


def _delete_access_key(server: ServerProcess, access_key_id: str) -> None:
    """What sign-out and user removal do to a key, done straight in the farm's database."""
    from sqlalchemy import delete

    from farmhand.server.store import Store, access_keys

    assert server.database_url
    store = Store(server.database_url, migrate=False)
    try:
        with store.write() as conn:
            assert conn.execute(
                delete(access_keys).where(access_keys.c.access_key_id == access_key_id)
            ).rowcount
    finally:
        store.dispose()


def test_exactly_one_node_keeps_house(two_nodes: tuple[ServerProcess, ServerProcess]) -> None:
    _wait_until(lambda: keeps_house(two_nodes[0]) or keeps_house(two_nodes[1]), 30)
    assert sorted(keeps_house(n) for n in two_nodes) == [False, True]


def test_killing_a_node_mid_job_loses_no_task_and_runs_none_twice_to_success(
    two_nodes: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    """Workers reach the farm through balancers preferring one node or the other. The node keeping
    house is killed (SIGKILL) mid-job, and so is a worker running a task: the other workers carry on
    through the surviving node, which takes over the housekeeping and reclaims the dead worker's task."""
    _wait_until(lambda: keeps_house(two_nodes[0]) or keeps_house(two_nodes[1]), 30)
    doomed, survivor = two_nodes if keeps_house(two_nodes[0]) else two_nodes[::-1]
    farm = Farm(survivor)
    with (
        Balancer([doomed.url, survivor.url]) as to_doomed,
        Balancer([survivor.url, doomed.url]) as to_survivor,
    ):
        agents = [
            worker(farm, tmp_path / f"w{i}", (to_doomed if i % 2 == 0 else to_survivor).url) for i in range(4)
        ]
        try:
            for agent in agents:
                agent.wait_registered()
            frames = step("Frames", "sleep 1; echo frame {{Task.Param.Frame}}", frames="1-16")
            job_id = through(farm, doomed).submit(job_template("through a crash", frames))
            _wait_until(lambda: farm.job(job_id)["taskRunStatusCounts"].get("SUCCEEDED", 0) >= 3, 120)
            doomed.kill()
            busy = {s["workerId"] for s in farm.sessions(job_id) if s["lifecycleStatus"] != "ENDED"}
            victim = next(agent for agent in agents if agent.worker_id in busy)
            victim.kill()

            job = farm.wait(job_id, timeout=240)

            assert job["taskRunStatus"] == "SUCCEEDED", job
            runs = succeeded_runs_per_task(farm, job_id)
            assert len(runs) == 16 and set(runs.values()) == {1}, runs
            assert keeps_house(survivor)
            lost = farm.deadline.get_worker(
                farmId=farm.farm_id, fleetId=farm.fleet_id, workerId=victim.worker_id
            )
            assert lost["status"] == "NOT_RESPONDING"
            assert to_doomed.connections_to.get(_address(survivor.url), 0) > 0  # its workers failed over
        finally:
            for agent in agents:
                agent.stop(timeout=30)


def _address(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def _wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def keeps_house(server: ServerProcess) -> bool:
    with urlopen(f"{server.url}/healthz", timeout=10) as answer:
        return bool(json.loads(answer.read())["keepsHouse"])


def through(farm: Farm, server: ServerProcess) -> Farm:
    """The same farm, called through another node."""
    other = copy.copy(farm)
    other.server = server
    other.deadline = server.client("deadline")
    other.logs = server.client("logs")
    return other


BIG_JOB_TASKS = 1_000_000  # the default task limit: large enough that a kill lands while it is written
BIG_JOB_TEMPLATE = """
specificationVersion: jobtemplate-2023-09
name: big
steps:
- name: render
  parameterSpace:
    taskParameterDefinitions:
    - {name: Frame, type: INT, range: "1-BIG_JOB_TASKS"}
  script:
    actions:
      onRun: {command: "true"}
""".replace("BIG_JOB_TASKS", str(BIG_JOB_TASKS))


def test_a_job_creation_cut_by_the_death_of_a_node_is_finished_by_the_other(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    """The node keeping house is killed (SIGKILL) while it writes the tasks of a job it acknowledged:
    the surviving node takes over the housekeeping and finishes the job, without a restart."""
    _wait_until(lambda: keeps_house(two_nodes[0]) or keeps_house(two_nodes[1]), 30)
    doomed, survivor = two_nodes if keeps_house(two_nodes[0]) else two_nodes[::-1]
    through_doomed: Any = doomed.client("deadline")
    farm_id = through_doomed.create_farm(displayName="big jobs")["farmId"]
    queue_id = through_doomed.create_queue(farmId=farm_id, displayName="q")["queueId"]
    job_id = through_doomed.create_job(
        farmId=farm_id, queueId=queue_id, template=BIG_JOB_TEMPLATE, templateType="YAML", priority=50
    )["jobId"]
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    written = 0
    while not written:
        job = through_doomed.get_job(**ids)
        assert job["lifecycleStatus"] == "CREATE_IN_PROGRESS", "the job was written before the kill"
        written = sum(job["taskRunStatusCounts"].values())
    doomed.kill()
    through_survivor: Any = survivor.client("deadline")
    assert 0 < written < BIG_JOB_TASKS

    give_up = time.monotonic() + 300
    while (job := through_survivor.get_job(**ids))["lifecycleStatus"] == "CREATE_IN_PROGRESS":
        assert time.monotonic() < give_up, "the surviving node did not finish the job"
        time.sleep(0.5)

    assert job["lifecycleStatus"] == "CREATE_COMPLETE", job.get("lifecycleStatusMessage")
    assert {k: v for k, v in job["taskRunStatusCounts"].items() if v} == {"READY": BIG_JOB_TASKS}
    assert keeps_house(survivor)
