"""A click group that imports a subcommand's module only when that subcommand runs.

`farmhand --help` lists every command from the short help kept here, so it imports neither boto3,
openjd nor the server; `farmhand job wait` imports the job commands and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a subcommand lives (`package.module:attribute`) and the one line `--help` shows for it."""

    import_path: str
    short_help: str


class LazyGroup(click.Group):
    """A group whose subcommands are `LazyCommand`s, loaded on first use."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy_commands:
            return command
        command = self._load(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def _load(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_commands[cmd_name].import_path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            return _unavailable(cmd_name, f"`farmhand {cmd_name}` is not available: {error}")
        command = getattr(module, attribute, None)
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name, f"`farmhand {cmd_name}` is not available in this installation.")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from loaded commands' help or the lazy entry's short help (no imports)."""
        rows: list[tuple[str, str]] = []
        limit = formatter.width - 6 - max((len(name) for name in self.list_commands(ctx)), default=0)
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                rows.append((name, self.lazy_commands[name].short_help))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _unavailable(cmd_name: str, message: str) -> click.Command:
    """A stand-in that explains why a command cannot run instead of failing with an import traceback."""

    def explain() -> None:
        raise click.ClickException(message)

    return click.Command(
        cmd_name,
        callback=explain,
        help=message,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
