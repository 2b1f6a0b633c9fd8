"""The `farmhand` command group: fast `--help`, commands loaded on demand, the worker dispatch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from farmhand.client.cli import COMMANDS, cli
from farmhand.client.cli._lazy_group import LazyCommand, LazyGroup

FARMHAND = str(Path(sys.executable).with_name("farmhand"))


def test_help_lists_every_command_without_importing_them() -> None:
    # When `farmhand --help` runs in a fresh interpreter
    probe = (
        "import sys, json\n"
        "from farmhand.client.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='farmhand')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['boto3', 'botocore', 'rich', 'openjd', 'farmhand.server', 'farmhand.client.api', 'yaml']\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    # Then every command is listed and nothing heavy was imported
    *help_lines, loaded = result.stdout.strip().splitlines()
    assert json.loads(loaded) == []
    help_text = "\n".join(help_lines)
    for name, entry in COMMANDS.items():
        assert f"  {name} " in help_text and entry.short_help in help_text


def test_console_script_help_and_version() -> None:
    result = subprocess.run([FARMHAND, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("farmhand, version ")
    result = subprocess.run([FARMHAND, "-h"], capture_output=True, text=True, check=True)
    assert "bundle submit" in result.stdout


def test_every_lazy_command_loads() -> None:
    # Given each registered command path
    for name, entry in COMMANDS.items():
        # When its help is asked for
        result = CliRunner().invoke(cli, [name, "--help"])
        # Then the command is found and explains itself
        assert result.exit_code == 0, (name, result.output)
        assert f"Usage: cli {name}" in result.output or f"Usage: farmhand {name}" in result.output, entry


def test_job_wait_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["job", "wait", "--help"])
    for line in (
        "0  the job succeeded",
        "1  timed out",
        "2  the job failed",
        "3  the job was canceled",
        "4  the job was suspended or archived",
        "5  the job is not compatible",
    ):
        assert line in result.output


def test_a_command_whose_module_is_missing_explains_itself() -> None:
    # Given a group with a command whose module is not installed
    group = LazyGroup("g", lazy_commands={"ghost": LazyCommand("no_such_module_here:command", "Ghost.")})
    # When it is listed and run
    listed = CliRunner().invoke(group, ["--help"])
    ran = CliRunner().invoke(group, ["ghost"])
    # Then the help shows it, and running it is a one-line error
    assert "ghost  Ghost." in listed.output
    assert ran.exit_code == 1
    assert ran.output.startswith(
        "Error: `farmhand ghost` is not available: No module named 'no_such_module_here'"
    )


def test_worker_options_without_a_subcommand_run_the_agent() -> None:
    # Given a worker group whose agent command records how it was called
    seen: list[str] = []

    @click.command("run")
    @click.option("--farm-id")
    def agent(farm_id: str) -> None:
        seen.append(farm_id)

    from farmhand.client.cli._worker import worker_group

    original = worker_group.commands.get("run")
    worker_group.add_command(agent, "run")
    try:
        # When `worker --farm-id F` runs
        result = CliRunner().invoke(worker_group, ["--farm-id", "farm-1"])
    finally:
        if original is not None:
            worker_group.add_command(original, "run")
        else:
            worker_group.commands.pop("run")
    # Then the agent ran with those options
    assert result.exit_code == 0, result.output
    assert seen == ["farm-1"]
    # and `worker list --help` is still the list command
    assert "The workers of a fleet" in CliRunner().invoke(worker_group, ["list", "--help"]).output
