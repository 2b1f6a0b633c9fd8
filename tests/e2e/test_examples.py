"""The example bundles on a real embedded farm (`LocalFarm`): each does what its description says."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from farmhand.client.attachments import plan_job_output, run_plan
from farmhand.testing import LocalFarm

pytestmark = pytest.mark.timeout(300)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFarm]:
    with LocalFarm(workers=2, directory=tmp_path_factory.mktemp("examples")) as running:
        yield running


def test_hello_says_hello(farm: LocalFarm) -> None:
    # When the hello example is submitted with the client library
    job_id = farm.submit(EXAMPLES / "hello")

    # Then it succeeds and its log has the greeting
    assert farm.wait(job_id)["taskRunStatus"] == "SUCCEEDED"
    assert "Hello from farmhand!" in farm.log_lines(job_id)


def test_frame_render_renders_every_frame_then_encodes(farm: LocalFarm, tmp_path: Path) -> None:
    # When four frames are rendered into a directory of ours
    output = tmp_path / "frames"
    job_id = farm.submit(EXAMPLES / "frame_render", {"Frames": "1-4", "OutputDir": str(output), "Width": 16})

    # Then the job succeeds with one task per frame plus the encode task
    job = farm.wait(job_id)
    assert job["taskRunStatus"] == "SUCCEEDED"
    assert job["taskRunStatusCounts"]["SUCCEEDED"] == 5
    # And the frames come back through the Default queue's bucket (the workers wrote them elsewhere)
    assert not output.exists()
    run_plan(plan_job_output(farm_id=farm.farm_id, queue_id=farm.queue_id, job_id=job_id))
    frames = sorted(path.name for path in output.glob("frame-*.ppm"))
    assert frames == ["frame-0001.ppm", "frame-0002.ppm", "frame-0003.ppm", "frame-0004.ppm"]
    assert (output / "frame-0001.ppm").read_text().startswith("P3\n16 9\n255\n")
    # And the encode step ran only once every frame existed: it packed all four
    packed = subprocess.run(
        ["tar", "-tzf", str(output / "frames.tar.gz")], capture_output=True, text=True, check=True
    )
    assert sorted(packed.stdout.split()) == frames


def test_job_environment_wraps_every_task_of_the_session(farm: LocalFarm) -> None:
    # When the job-environment example runs
    job_id = farm.submit(EXAMPLES / "job_environment", {"Tool": "renderer-9.9"})

    # Then it succeeds and each task saw the variable the environment set
    assert farm.wait(job_id)["taskRunStatus"] == "SUCCEEDED"
    lines = "\n".join(farm.log_lines(job_id))
    assert "entering the environment: renderer-9.9" in lines
    for shot in ("intro", "middle", "finale"):
        assert f"shot {shot} uses renderer-9.9" in lines
    assert "leaving the environment" in lines


def test_retries_fails_the_job_and_why_shows_the_failing_task(farm: LocalFarm) -> None:
    # When the retries example runs with one retry per task
    job_id = farm.submit(EXAMPLES / "retries", max_retries_per_task=1)

    # Then the bad task was tried twice and failed, the others succeeded, and the job failed
    job = farm.wait(job_id)
    assert job["taskRunStatus"] == "FAILED"
    assert job["taskRunStatusCounts"]["FAILED"] == 1
    assert job["taskRunStatusCounts"]["SUCCEEDED"] == 2
    deadline = farm.client("deadline")
    step_id = deadline.list_steps(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id)["steps"][0][
        "stepId"
    ]
    tasks = deadline.list_tasks(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id, stepId=step_id)[
        "tasks"
    ]
    failed = [task for task in tasks if task["runStatus"] == "FAILED"]
    assert [task["parameters"]["Item"]["int"] for task in failed] == ["2"]
    attempts = deadline.list_session_actions(
        farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id, taskId=failed[0]["taskId"]
    )["sessionActions"]
    assert [action["status"] for action in attempts] == ["FAILED", "FAILED"]
    # And `farmhand job why` names the failed task and shows the end of its log
    why = subprocess.run(
        [str(Path(sys.executable).with_name("farmhand")), "job", "why", job_id],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "corrupt input file" in why.stdout, why.stdout + why.stderr
    assert "failed 2 times" in why.stdout  # it ran twice: the first run and one retry


@pytest.mark.local_farm(workers=1)
def test_the_local_farm_fixture_runs_a_bundle(local_farm: LocalFarm) -> None:
    # Given the fixture a bundle author would use
    # When they submit their bundle
    job_id = local_farm.submit(EXAMPLES / "hello", {"Greeting": "Hi from a fixture"})

    # Then it runs for real on the throw-away farm
    assert local_farm.wait(job_id)["taskRunStatus"] == "SUCCEEDED"
    assert "Hi from a fixture!" in local_farm.log_lines(job_id)
