"""Reading a password: from stdin (`--password-stdin`, for scripts) or a hidden prompt in a terminal.

Passwords never appear on a command line (where `ps` and shell history would show them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ._errors import CliUsageError

__all__ = ["password_stdin_option", "read_password"]

F = TypeVar("F", bound=Callable[..., Any])


def password_stdin_option(function: F) -> F:
    return click.option(
        "--password-stdin", is_flag=True, help="Read the password from stdin (one line) instead of a prompt."
    )(function)


def read_password(from_stdin: bool, *, prompt: str = "Password", confirm: bool = False) -> str:
    """The password from stdin's first line, or typed at a hidden prompt (twice when `confirm`)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise CliUsageError("--password-stdin: stdin held no password.")
        return password
    if not sys.stdin.isatty():
        raise CliUsageError("No terminal to ask for the password: pass it on stdin with --password-stdin.")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))
