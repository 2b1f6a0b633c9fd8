"""The AWS `deadline` CLI (PyPI `deadline`) against an embedded farm, configured only by `farmhand up`.

`farmhand up` writes the AWS profile and the deadline config defaults; nothing else tells the
`deadline` CLI where the farm is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from _workstation import REPO, Workstation, new_workstation

pytestmark = pytest.mark.timeout(300)

BUNDLES = REPO / "tests" / "bundles"
JOB_ID = re.compile(r"job-[0-9a-f]{32}")


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workstation]:
    station = new_workstation(tmp_path_factory.mktemp("compat"))
    started = station.up("--workers", "2")
    assert started.returncode == 0, started.stderr
    yield station
    station.down()


def submitted_job_id(output: str) -> str:
    found = JOB_ID.findall(output)
    assert found, output
    return found[-1]


def test_farm_list_and_queue_list_show_the_embedded_farm(station: Workstation) -> None:
    # When the AWS CLI lists farms and queues with nothing but the defaults `farmhand up` wrote
    farms = station.deadline("farm", "list")
    queues = station.deadline("queue", "list")

    # Then it sees the farm once (it asks the profile's region only) and its queue
    assert farms.returncode == 0, farms.stderr
    assert farms.stdout.count("Local Farm") == 1, farms.stdout
    assert queues.returncode == 0, queues.stderr
    assert "Default" in queues.stdout


def test_hello_submitted_with_the_aws_cli_succeeds_and_its_log_is_readable(station: Workstation) -> None:
    # Given the hello example submitted with `deadline bundle submit`
    submit = station.deadline("bundle", "submit", "examples/hello", "--yes")
    assert submit.returncode == 0, submit.stdout + submit.stderr
    job_id = submitted_job_id(submit.stdout)

    # When the user waits for it
    wait = station.deadline("job", "wait", "--job-id", job_id, "--max-poll-interval", "1", "--timeout", "120")

    # Then it exits 0, `job get` says SUCCEEDED and `job logs` shows the task's output
    assert wait.returncode == 0, wait.stdout + wait.stderr
    get = station.deadline("job", "get", "--job-id", job_id)
    assert get.returncode == 0, get.stderr
    assert "SUCCEEDED" in get.stdout
    logs = station.deadline("job", "logs", "--job-id", job_id)
    assert logs.returncode == 0, logs.stderr
    assert "Hello from farmhand!" in logs.stdout


def test_a_script_bundle_runs_with_parameters(station: Workstation, tmp_path: Path) -> None:
    # Given a bundle that runs a script parameter in a data directory
    bundle = BUNDLES / "directory_script"
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("some input\n")

    # When it is submitted with -p values and waited for
    submit = station.deadline(
        "bundle",
        "submit",
        str(bundle),
        "-p",
        f"DataDir={data}",
        "-p",
        "Script=echo compat-run > result.txt; ls",
        "--yes",
    )
    assert submit.returncode == 0, submit.stdout + submit.stderr
    job_id = submitted_job_id(submit.stdout)
    wait = station.deadline("job", "wait", "--job-id", job_id, "--max-poll-interval", "1", "--timeout", "120")

    # Then it succeeds and its script ran in (the worker's copy of) the data directory
    assert wait.returncode == 0, wait.stdout + wait.stderr
    # And what it wrote there comes back through the Default queue's bucket
    assert not (data / "result.txt").exists()
    download = station.deadline("job", "download-output", "--job-id", job_id, "--yes")
    assert download.returncode == 0, download.stdout + download.stderr
    assert (data / "result.txt").read_text().strip() == "compat-run"


def test_job_wait_on_a_failing_job_exits_2(station: Workstation) -> None:
    # Given the retries example, which has a task that always fails, with no retries
    submit = station.deadline("bundle", "submit", "examples/retries", "--max-retries-per-task", "0", "--yes")
    assert submit.returncode == 0, submit.stdout + submit.stderr
    job_id = submitted_job_id(submit.stdout)

    # When the user waits for it
    wait = station.deadline("job", "wait", "--job-id", job_id, "--max-poll-interval", "1", "--timeout", "120")

    # Then `job wait` exits 2 (job failed)
    assert wait.returncode == 2, wait.stdout + wait.stderr


def test_trace_schedule_reads_a_multi_step_job(station: Workstation, tmp_path: Path) -> None:
    # Given the frame_render example (a render step, then an encode step that depends on it) run
    # on the farm's two workers
    submit = station.deadline(
        "bundle",
        "submit",
        "examples/frame_render",
        "-p",
        "Frames=1-3",
        "-p",
        f"OutputDir={tmp_path / 'frames'}",
        "--yes",
    )
    assert submit.returncode == 0, submit.stdout + submit.stderr
    job_id = submitted_job_id(submit.stdout)
    wait = station.deadline("job", "wait", "--job-id", job_id, "--max-poll-interval", "1", "--timeout", "120")
    assert wait.returncode == 0, wait.stdout + wait.stderr

    # When the AWS CLI traces how the farm scheduled it
    trace = station.deadline(
        "job",
        "trace-schedule",
        "--job-id",
        job_id,
        "--trace-format",
        "chrome",
        "--trace-file",
        str(tmp_path / "t.json"),
    )

    # Then it reads every session as one step's, as the service keeps them, and writes the trace
    assert trace.returncode == 0, trace.stdout + trace.stderr
    assert "more than one step" not in trace.stdout + trace.stderr
    assert (tmp_path / "t.json").stat().st_size > 0
