"""Identifiers and ARNs in the AWS formats (`farm-` + 32 lowercase hex, task-<hex>-<n>, ...)."""

from __future__ import annotations

import secrets
import string
import time


def new_id(prefix: str) -> str:
    """A resource id such as `farm-0123...` (32 lowercase hex digits, as the model's patterns want).

    The first 16 digits are the creation time in nanoseconds, the rest random: ids sort in creation
    order, so a new step's million task keys append at the right edge of the tasks index instead
    of splitting pages in the middle of it (several times faster on PostgreSQL).
    """
    return f"{prefix}-{time.time_ns():016x}{secrets.token_hex(8)}"


def hex_of(resource_id: str) -> str:
    """The 32-hex part of an id (`step-<hex>` → `<hex>`), used to derive task and action ids."""
    return resource_id.split("-")[1]


def task_id(step_id: str, index: int) -> str:
    return f"task-{hex_of(step_id)}-{index}"


def session_action_id(session_id: str, index: int) -> str:
    return f"sessionaction-{hex_of(session_id)}-{index}"


def new_account_id() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(12))


def new_access_key_id(temporary: bool) -> str:
    """AKIA... for long-lived keys, ASIA... for temporary ones, as AWS spells them."""
    alphabet = string.ascii_uppercase + "234567"
    return ("ASIA" if temporary else "AKIA") + "".join(secrets.choice(alphabet) for _ in range(16))


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


def new_session_token() -> str:
    return "FH" + secrets.token_urlsafe(96)


def task_key(task: str) -> tuple[str, int] | None:
    """The (step id, index) a task id names, or None when it is not a task id at all.

    Task ids are derived from their step and position, so the store keys tasks by (step, index)
    and needs no index of its own on the id text.
    """
    kind, _, rest = task.partition("-")
    hex_part, _, index = rest.partition("-")
    if kind != "task" or not hex_part or not index.isascii() or not index.isdigit() or len(index) > 10:
        return None
    if index != "0" and index.startswith("0"):
        return None
    return f"step-{hex_part}", int(index)
