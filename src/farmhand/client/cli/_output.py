"""How commands print: JSON for scripts (`--json`), rich tables and key/value blocks for people.

Results go to stdout; progress and chatter go to stderr, so `farmhand ... --json | jq` and
`JOB=$(farmhand bundle submit ...)` see only the answer. rich is imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "STATUS_STYLES",
    "emit_json",
    "err_console",
    "json_option",
    "jsonable",
    "out_console",
    "print_record",
    "print_table",
    "styled_status",
    "task_parameters_text",
]

F = TypeVar("F", bound=Callable[..., Any])

STATUS_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "CANCELED": "yellow",
    "SUSPENDED": "yellow",
    "NOT_COMPATIBLE": "magenta",
    "RUNNING": "cyan",
    "ASSIGNED": "cyan",
    "STARTING": "cyan",
    "SCHEDULED": "cyan",
    "READY": "blue",
    "PENDING": "dim",
    "INTERRUPTING": "yellow",
    "ACTIVE": "green",
    "IDLE": "green",
    "STOPPED": "dim",
    "CREATE_FAILED": "bold red",
    "UPDATE_FAILED": "bold red",
}

_consoles: dict[str, Console] = {}
_PIPED_WIDTH = 200


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(function)


def out_console() -> Console:
    """The console for results (stdout)."""
    if "out" not in _consoles:
        import sys

        from rich.console import Console

        # Piped output is read by programs and wide terminals alike: do not fold it at 80 columns.
        width = None if sys.stdout.isatty() else _PIPED_WIDTH
        _consoles["out"] = Console(soft_wrap=True, highlight=False, width=width)
    return _consoles["out"]


def err_console() -> Console:
    """The console for progress and messages (stderr)."""
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, highlight=False)
    return _consoles["err"]


def jsonable(value: Any) -> Any:
    """Plain JSON values: datetimes as ISO-8601, botocore's `ResponseMetadata` dropped."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple | set):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return jsonable(asdict(value))
    if isinstance(value, Enum):
        return value.name
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(jsonable(value), indent=2, sort_keys=False))


def styled_status(status: str | None) -> str:
    """A status word in its colour (rich markup)."""
    if not status:
        return ""
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def print_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    title: str | None = None,
    status_columns: Sequence[str] = (),
    empty_message: str = "Nothing to show.",
) -> None:
    """A table of `rows` showing `columns` (key, heading); status columns are coloured."""
    from rich.markup import escape
    from rich.table import Table

    materialised = list(rows)
    console = out_console()
    if not materialised:
        console.print(empty_message)
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for _, heading in columns:
        table.add_column(heading, overflow="fold")
    for row in materialised:
        cells = []
        for key, _ in columns:
            text = escape(_cell(row.get(key)))
            cells.append(styled_status(text) if key in status_columns else text)
        table.add_row(*cells)
    console.print(table)


def print_record(record: Mapping[str, Any], *, title: str | None = None) -> None:
    """One resource as an indented `key: value` block (YAML), the way the AWS CLI shows details."""
    import yaml

    text = yaml.safe_dump(jsonable(record), sort_keys=False, default_flow_style=False, allow_unicode=True)
    if title:
        click.echo(title)
    click.echo(text.rstrip("\n"))


def task_parameters_text(parameters: Mapping[str, Any]) -> str:
    """`Frame=3 Camera=left` from a task's `{name: {type: value}}` parameters."""
    pieces = []
    for name, typed in sorted(parameters.items()):
        value = next(iter(typed.values())) if isinstance(typed, Mapping) and typed else typed
        pieces.append(f"{name}={value}")
    return " ".join(pieces)
