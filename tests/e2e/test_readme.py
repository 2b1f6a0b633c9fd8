"""Every command in README.md, run in order the way a reader would, on a machine of its own.

Shell blocks (```sh) run line by line in bash; python blocks run with the venv's python, and a
python block that defines `test_` functions runs under pytest (it uses the `local_farm` fixture).
What a test cannot do literally is done as close to it as possible, and said here:
* `./scripts/test` is skipped: it is the command running this test (CI runs it, see `.ci/run`).
* The default port 8080 may be taken on a test machine: `FARMHAND_PORT` (read by `farmhand up`)
  gives a free one, and `--port 8080` of `farmhand server` becomes a free port.
* Commands that run until stopped (`farmhand worker`, `farmhand server`, `deadline-worker-agent`) are
  started, checked to be serving (the worker registers in the fleet; the server prints its URL; the
  AWS agent's worker is online), then stopped with SIGTERM; a `farmhand server` followed by more
  commands in its block serves them, and is stopped when the block ends (its `--port N` and
  `127.0.0.1:N` become the free port it got; a block may start several). A block whose server cannot
  run here (no PostgreSQL, also for a second server of one block: they share a database) is skipped
  from that server on. The AWS agent is the one `./scripts/test` installs (FARMHAND_AWS_WORKER_AGENT); without
  it that command is not run, and the test says so.
* The farm's URL in the AWS agent's environment (`http://127.0.0.1:8080`) becomes the farm's real URL.
* `FARM_ID` and `FLEET_ID` stand for the ids `farmhand status` prints; `$FARMHAND_DATABASE_URL` is a
  throw-away PostgreSQL cluster, or that command is skipped when PostgreSQL is not installed.
* `export NAME=VALUE` sets the variable for the commands after it (each line runs in a bash of its
  own); `export FARMHAND_DATABASE_URL=...` exports the throw-away cluster's URL, or nothing when
  PostgreSQL is not installed.
* `http://127.0.0.1:8080`, the embedded farm's address, is the address `farmhand status` prints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _aws_worker_agent import INSTALL, find_agent
from _workstation import REPO, Workstation, new_workstation

pytestmark = pytest.mark.timeout(900)

README = REPO / "README.md"
VENV_BIN = Path(sys.executable).parent
RUNS_THIS_TEST = "./scripts/test"
EMBEDDED_FARM_URL = "http://127.0.0.1:8080"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Snippet:
    language: str
    text: str
    block: int = 0  # which code block of the README it is in
    last_in_block: bool = True


def readme_snippets() -> list[Snippet]:
    snippets: list[Snippet] = []
    for block, match in enumerate(BLOCK.finditer(README.read_text())):
        language, body = match.group(1), match.group(2)
        if language == "sh":
            lines = _shell_lines(body)
            snippets += [Snippet("sh", line, block, i == len(lines) - 1) for i, line in enumerate(lines)]
        elif language == "python":
            snippets.append(Snippet("python", body, block))
    return snippets


def _shell_lines(body: str) -> list[str]:
    joined = body.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workstation]:
    """A reader's machine: an empty HOME, the repository's venv on PATH, a free port for the farm."""
    root = tmp_path_factory.mktemp("readme")
    station = new_workstation(root)
    home = root / "home"
    home.mkdir()
    station.env.pop("XDG_DATA_HOME", None)
    station.env.update(
        HOME=str(home),
        PATH=f"{VENV_BIN}{os.pathsep}{station.env.get('PATH', '')}",
        FARMHAND_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    yield station
    station.run("bash", "-c", "farmhand down", timeout=120)


def farm_status(station: Workstation) -> dict[str, Any]:
    result = station.run("bash", "-c", "farmhand status --json")
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def run_until_serving(station: Workstation, command: str, serving: Any, timeout: float = 90) -> None:
    """Start a command that runs until stopped, wait for `serving()` to be true, then SIGTERM it."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env=station.env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        give_up = time.monotonic() + timeout
        while not serving(output):
            assert process.poll() is None, f"`{command}` exited early:\n{''.join(output)}"
            assert time.monotonic() < give_up, f"`{command}` did not start serving:\n{''.join(output)}"
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        remaining, _ = process.communicate(timeout=90)
        output.append(remaining)
    assert process.returncode in (0, -signal.SIGTERM), "".join(output)


def run_long_running(station: Workstation, command: str, pg_url: str | None) -> bool:
    """Run a command that serves until stopped; False when it cannot run here (no PostgreSQL, no agent)."""
    if "deadline-worker-agent" in command:
        return run_aws_agent(station, command)
    if command.startswith("farmhand worker"):
        status = farm_status(station)
        command = command.replace("FARM_ID", status["farm_id"]).replace("FLEET_ID", status["fleet_id"])
        before = _worker_ids(station, status)
        run_until_serving(station, command, lambda output: bool(_worker_ids(station, status) - before))
        return True
    if "$FARMHAND_DATABASE_URL" in command:
        if pg_url is None:
            return False
        command = command.replace("$FARMHAND_DATABASE_URL", pg_url)
    command = command.replace("--port 8080", f"--port {free_port()}")
    _run_with_output(station, command, lambda output: any("server ready at" in line for line in output), [])
    return True


def run_aws_agent(station: Workstation, command: str) -> bool:
    """The AWS worker agent with exactly the README's environment; serving once its worker is online."""
    agent = find_agent()
    if not agent:
        return False
    status = farm_status(station)
    port = status["url"].rstrip("/").rsplit(":", 1)[1]
    command = "env " + (  # the README's `VAR=value command` form, under the test's `exec`
        command.replace("FARM_ID", status["farm_id"])
        .replace("FLEET_ID", status["fleet_id"])
        .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        .replace("deadline-worker-agent", agent, 1)
    )
    before = _worker_ids(station, status)

    def agent_worker_online(output: list[str]) -> bool:
        result = station.run(
            "bash",
            "-c",
            f"farmhand worker list --farm-id {status['farm_id']} --fleet-id {status['fleet_id']} --json",
        )
        workers = json.loads(result.stdout)["workers"] if result.returncode == 0 else []
        return any(
            w["workerId"] not in before and w["status"] in ("STARTED", "IDLE", "RUNNING") for w in workers
        )

    run_until_serving(station, command, agent_worker_online)
    return True


def _run_with_output(station: Workstation, command: str, ready: Any, output: list[str]) -> None:
    """Like `run_until_serving`, for commands whose readiness shows in their own output."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env=station.env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    give_up = time.monotonic() + 90
    try:
        for line in process.stdout:
            output.append(line)
            if ready(output) or time.monotonic() > give_up:
                break
        assert ready(output), f"`{command}` did not start serving:\n{''.join(output)}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert process.returncode in (0, -signal.SIGTERM), "".join(output)


class BlockServer:
    """A `farmhand server` that serves the rest of its README block, stopped when the block ends."""

    def __init__(self, station: Workstation, command: str, block: int) -> None:
        self.block = block
        self.port = free_port()
        given = re.search(r"--port (\d+)", command)
        self.readme_port = given.group(1) if given else "8080"
        command = command.replace(f"--port {self.readme_port}", f"--port {self.port}")
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            env=station.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        assert self.process.stdout is not None
        give_up = time.monotonic() + 90
        for line in self.process.stdout:
            self.output.append(line)
            if "server ready at" in line or time.monotonic() > give_up:
                break
        assert any("server ready at" in line for line in self.output), "".join(self.output)

    def local(self, command: str) -> str:
        return command.replace(f"127.0.0.1:{self.readme_port}", f"127.0.0.1:{self.port}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        remaining, _ = self.process.communicate(timeout=60)
        self.output.append(remaining)
        assert self.process.returncode in (0, -signal.SIGTERM), "".join(self.output)


def _worker_ids(station: Workstation, status: dict[str, Any]) -> set[str]:
    result = station.run(
        "bash",
        "-c",
        f"farmhand worker list --farm-id {status['farm_id']} --fleet-id {status['fleet_id']} --json",
    )
    if result.returncode != 0:
        return set()
    return set(re.findall(r"worker-[0-9a-f]{32}", result.stdout))


def is_long_running(command: str) -> bool:
    return command.startswith(("farmhand worker", "farmhand server")) or "deadline-worker-agent" in command


@pytest.fixture(scope="module")
def pg_url_if_available(request: pytest.FixtureRequest) -> str | None:
    try:
        return str(request.getfixturevalue("pg_url"))
    except (pytest.FixtureLookupError, pytest.skip.Exception):
        return None


def test_the_readme_lists_the_two_commands_for_a_fresh_machine() -> None:
    commands = [snippet.text for snippet in readme_snippets() if snippet.language == "sh"]
    assert commands[:2] == ["./scripts/demo", RUNS_THIS_TEST]


def test_every_readme_command_works(
    reader: Workstation, tmp_path: Path, pg_url_if_available: str | None
) -> None:
    not_run: list[str] = []
    block_servers: list[BlockServer] = []
    skipped_block = -1
    try:
        for snippet in readme_snippets():
            if block_servers and snippet.block != block_servers[0].block:
                for server in block_servers:
                    server.stop()
                block_servers = []
            if snippet.block == skipped_block:
                not_run.append(snippet.text)
                continue
            if snippet.language == "sh":
                command = snippet.text
                if command == RUNS_THIS_TEST:
                    continue
                if command.startswith("export "):
                    name, _, value = command.removeprefix("export ").partition("=")
                    if name == "FARMHAND_DATABASE_URL":
                        if pg_url_if_available is None:
                            not_run.append(command)
                            continue
                        value = pg_url_if_available
                    reader.env[name] = value
                    continue
                if command.startswith("farmhand server") and not snippet.last_in_block:
                    if pg_url_if_available is None and ("$FARMHAND_DATABASE_URL" in command or block_servers):
                        skipped_block = snippet.block
                        not_run.append(command)
                        continue
                    if pg_url_if_available is not None:
                        command = command.replace("$FARMHAND_DATABASE_URL", pg_url_if_available)
                    block_servers.append(BlockServer(reader, command, snippet.block))
                    continue
                for server in block_servers:
                    command = server.local(command)
                if is_long_running(command):
                    if not run_long_running(reader, command, pg_url_if_available):
                        not_run.append(command)
                    continue
                if EMBEDDED_FARM_URL in command:
                    command = command.replace(EMBEDDED_FARM_URL, farm_status(reader)["url"])
                result = reader.run("bash", "-o", "pipefail", "-c", command, timeout=300)
                assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}\n{result.stderr}"
            elif "def test_" in snippet.text:
                test_file = tmp_path / "test_from_readme.py"
                test_file.write_text(snippet.text)
                result = reader.run(
                    sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)
                )
                assert result.returncode == 0, f"README test failed:\n{result.stdout}\n{result.stderr}"
            else:
                result = reader.run(sys.executable, "-c", snippet.text, timeout=300)
                assert result.returncode == 0, (
                    f"README python failed:\n{snippet.text}\n{result.stdout}\n{result.stderr}"
                )
    finally:
        for server in block_servers:
            server.stop()
    if not_run:
        warnings.warn(
            f"not run here (PostgreSQL, or the AWS worker agent: {INSTALL}): {not_run}", stacklevel=1
        )
