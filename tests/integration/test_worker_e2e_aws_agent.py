"""The unmodified AWS Deadline Cloud worker agent runs a job on a farmhand farm.

It is pointed at the farm only through its process environment (spec §7.4); see `_aws_agent`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _aws_agent import running_aws_agent
from _worker_farm import EXPR_LINES, EXPR_TEMPLATE, Farm, job_template, require_worker_protocol, step

from farmhand.testing import ServerProcess, server_environment

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    with ServerProcess(tmp_path_factory.mktemp("aws-agent-server")) as server:
        built = Farm(server)
        require_worker_protocol(built)
        yield built


@pytest.fixture(scope="module")
def aws_agent(farm: Farm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    home = tmp_path_factory.mktemp("aws-agent")
    with running_aws_agent(farm.farm_id, farm.fleet_id, home, server_environment(farm.server, home)) as agent:
        yield agent


def test_the_aws_worker_agent_runs_a_job_and_ships_its_logs(
    farm: Farm, aws_agent: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # Given a farm the unmodified AWS agent registered with
    deadline = time.monotonic() + 60
    while not farm.deadline.list_workers(farmId=farm.farm_id, fleetId=farm.fleet_id)["workers"]:
        assert aws_agent.poll() is None, "the AWS worker agent exited"
        assert time.monotonic() < deadline, "the AWS worker agent did not register"
        time.sleep(0.2)
    # When a three-task job is submitted
    template = job_template(
        "aws agent", step("Echo", 'echo "aws agent frame {{Task.Param.Frame}}"', frames="1-3")
    )
    job_id = farm.submit(template)
    job = farm.wait(job_id, timeout=180)
    # Then it succeeds, and each task's output is in the session log the agent shipped
    assert job["taskRunStatus"] == "SUCCEEDED", job
    assert job["taskRunStatusCounts"]["SUCCEEDED"] == 3
    wanted = [f"aws agent frame {frame}" for frame in (1, 2, 3)]
    deadline = time.monotonic() + 30
    while True:
        logs = "\n".join(line for s in farm.sessions(job_id) for line in farm.session_log(s["sessionId"]))
        if all(text in logs for text in wanted):
            break
        assert time.monotonic() < deadline, logs
        time.sleep(0.5)
    assert aws_agent.poll() is None


def test_the_aws_worker_agent_runs_expr_templates_with_their_bindings(
    farm: Farm, aws_agent: subprocess.Popen[bytes]
) -> None:
    # Given the EXPR job the farmhand worker runs in test_worker_e2e
    # When the unmodified AWS agent runs it
    job_id = farm.submit(EXPR_TEMPLATE)
    job = farm.wait(job_id, timeout=180)
    # Then the farm's entities carried what it needs: every binding had its value
    assert job["taskRunStatus"] == "SUCCEEDED", job
    logs = farm.job_log_once_it_has(job_id, EXPR_LINES, timeout=30)
    assert all(line in logs for line in EXPR_LINES), logs
