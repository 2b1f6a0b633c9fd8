"""Bad input to the installed `farmhand` command: one clear line on stderr, non-zero exit, no traceback."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_farm import FARMHAND, CliWorkstation, make_workstation, write_bundle

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def station(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorkstation]:
    yield make_workstation(server, tmp_path_factory.mktemp("cli-errors"))


def one_line_error(result: subprocess.CompletedProcess[str], *, after_progress: bool = False) -> str:
    """The single error line, after checking the shape every bad-input failure must have.

    `after_progress`: a submission may first say which queue it is submitting to; the error is then
    still one line, the last one.
    """
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    if not after_progress:
        assert len(lines) == 1, result.stderr
    else:
        assert all(line.startswith("Submitting to Queue:") for line in lines[:-1]), result.stderr
    assert result.stdout == "", result.stdout
    return errors[0]


def test_bundle_directory_without_a_template(station: CliWorkstation, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    line = one_line_error(station.run_process("bundle", "submit", str(tmp_path / "empty"), "--yes"))
    assert "lacks a template.json or template.yaml" in line


def test_bundle_directory_that_does_not_exist(station: CliWorkstation, tmp_path: Path) -> None:
    line = one_line_error(station.run_process("bundle", "submit", str(tmp_path / "missing"), "--yes"))
    assert "missing" in line


def test_template_failing_validation_names_the_field(station: CliWorkstation, tmp_path: Path) -> None:
    # Given a template whose step has no script
    template = "specificationVersion: 'jobtemplate-2023-09'\nname: Broken\nsteps:\n- name: NoScript\n"
    bundle = write_bundle(tmp_path / "broken", template)
    # When it is submitted (the farm checks the template with openjd-model)
    line = one_line_error(station.run_process("bundle", "submit", str(bundle), "--yes"), after_progress=True)
    # Then the one error line says which field is wrong
    assert "not valid" in line and "script" in line


def test_unknown_parameter_name(station: CliWorkstation, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle")
    result = station.run_process("bundle", "submit", str(bundle), "-p", "Colour=red", "--yes")
    line = one_line_error(result, after_progress=True)
    assert "Colour" in line


def test_parameter_of_the_wrong_type(station: CliWorkstation, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle")
    result = station.run_process("bundle", "submit", str(bundle), "-p", "Count=many", "--yes")
    line = one_line_error(result, after_progress=True)
    assert "Count" in line and "many" in line


def test_parameter_without_a_value(station: CliWorkstation, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle")
    line = one_line_error(station.run_process("bundle", "submit", str(bundle), "-p", "Count", "--yes"))
    assert line == "Error: -p 'Count' is not Name=Value"


def test_unknown_farm_id(station: CliWorkstation) -> None:
    farm = "farm-00000000000000000000000000000000"
    line = one_line_error(station.run_process("queue", "list", "--farm-id", farm))
    assert farm in line and "ResourceNotFoundException" in line


def test_unknown_queue_id_on_submit(station: CliWorkstation, tmp_path: Path) -> None:
    queue = "queue-00000000000000000000000000000000"
    bundle = write_bundle(tmp_path / "bundle")
    result = station.run_process("bundle", "submit", str(bundle), "--queue-id", queue, "--yes")
    line = one_line_error(result, after_progress=True)
    assert queue in line and "ResourceNotFoundException" in line


def test_unknown_job_id(station: CliWorkstation) -> None:
    job = "job-00000000000000000000000000000000"
    line = one_line_error(station.run_process("job", "why", job))
    assert job in line


def test_missing_profile(station: CliWorkstation) -> None:
    line = one_line_error(station.run_process("farm", "list", "--profile", "no-such-profile"))
    assert "'no-such-profile' does not exist" in line


def test_farm_that_is_not_running(station: CliWorkstation, tmp_path: Path) -> None:
    # Given a workstation whose profile points at a port where nothing listens
    dead = CliWorkstation(
        tmp_path, "http://127.0.0.1:9", station.access_key_id, station.secret_access_key, farm_id="farm-x"
    ).write_files()
    dead.extra_env["AWS_MAX_ATTEMPTS"] = "1"
    line = one_line_error(dead.run_process("farm", "get"))
    assert "Could not reach the farm" in line


def test_unknown_command_is_a_usage_error(station: CliWorkstation) -> None:
    result = station.run_process("jobs", "list")
    assert result.returncode == 2
    assert "No such command 'jobs'" in result.stderr
    assert "Traceback" not in result.stderr


def _sigint_as_from_a_terminal() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_waiting_exits_130_without_a_traceback(station: CliWorkstation, tmp_path: Path) -> None:
    # Given a job that will not finish (no worker) and a `job wait` on it
    submitted = station.run_process("bundle", "submit", str(write_bundle(tmp_path / "b")), "--yes")
    job_id = submitted.stdout.strip()
    waiting = subprocess.Popen(
        [FARMHAND, "job", "wait", job_id, "--max-poll-interval", "0.5"],
        env=station.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: SIGINT delivered and not ignored, whatever this test process inherited
        # or blocked (an ignored or blocked signal survives exec).
        preexec_fn=_sigint_as_from_a_terminal,
    )
    assert waiting.stderr is not None
    first_line = waiting.stderr.readline()  # the first status line: the wait has started
    # When the user presses Ctrl-C
    waiting.send_signal(signal.SIGINT)
    _, rest = waiting.communicate(timeout=30)
    # Then it stops at once with the shell's code for an interrupt
    assert job_id in first_line
    assert waiting.returncode == 130
    assert "Traceback" not in rest and "Interrupted." in rest


def test_no_farm_configured_and_several_to_choose_from(
    station: CliWorkstation, server: ServerProcess, tmp_path: Path
) -> None:
    # Given a workstation whose config names no farm, on a server with more than one farm
    server.client("deadline").create_farm(displayName="Another farm")
    bare = CliWorkstation(
        tmp_path, station.url, station.access_key_id, station.secret_access_key
    ).write_files()
    # When a farm command runs without --farm-id
    result = bare.run_process("queue", "list")
    # Then it says what is missing, in one line, as a usage error
    line = one_line_error(result)
    assert result.returncode == 2
    assert line.startswith("Error: Missing '--farm-id' or default Farm ID configuration (")
    assert "farms found" in line


def test_a_queue_that_does_not_exist_is_an_error_not_an_empty_list(station: CliWorkstation) -> None:
    missing = "queue-" + "0" * 32
    line = one_line_error(station.run_process("job", "list", "--queue-id", missing))
    assert missing in line and "ResourceNotFoundException" in line


@pytest.mark.parametrize("command", [["farm", "list"], ["queue", "list"], ["job", "list"]])
def test_with_an_empty_config_one_line_says_what_to_do(tmp_path: Path, command: list[str]) -> None:
    # Given a new user's machine: no AWS or deadline configuration at all
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "DEADLINE_CONFIG_FILE_PATH": str(tmp_path / "deadline-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DEADLINE_CLOUD_TELEMETRY_OPT_OUT": "true",
    }
    # When they run a command
    result = subprocess.run([FARMHAND, *command], env=env, capture_output=True, text=True, timeout=60)
    # Then one line says what to do, not one warning per region
    line = one_line_error(result)
    assert "--profile" in line and "farmhand up" in line


BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def test_require_paths_exist_refuses_a_missing_input_directory(
    station: CliWorkstation, tmp_path: Path
) -> None:
    # Given a bundle whose data directory (read and written by the job) does not exist
    missing = tmp_path / "no-such-directory"
    # When it is submitted asking for every input path to exist
    result = station.run_process(
        "bundle",
        "submit",
        str(BUNDLES / "directory_script"),
        "-p",
        f"DataDir={missing}",
        "--require-paths-exist",
        "--yes",
    )
    # Then it is refused, naming the directory
    line = one_line_error(result, after_progress=True)
    assert str(missing) in line and "directories" in line


def test_require_paths_exist_refuses_a_missing_input_file(station: CliWorkstation, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-scene.blend"
    result = station.run_process(
        "bundle",
        "submit",
        str(BUNDLES / "every_control"),
        "-p",
        f"Scene={missing}",
        "-p",
        f"Image={tmp_path / 'out.png'}",
        "-p",
        f"WorkDir={tmp_path}",
        "--require-paths-exist",
        "--yes",
    )
    line = one_line_error(result, after_progress=True)
    assert str(missing) in line and "files" in line
