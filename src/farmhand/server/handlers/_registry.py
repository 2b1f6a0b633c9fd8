"""Operation handlers by service and name, and the call context each one receives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ...arns import arn

if TYPE_CHECKING:
    from .._identity import Principal
    from .._runtime import ServerRuntime

Params = dict[str, Any]
Output = dict[str, Any]


@dataclass
class CallHints:
    """What a handler tells the dispatcher about its call."""

    #: Changed nothing others wait on: wake no long-polling worker, write no audit record for a
    #: rule that audits only changes.
    quiet: bool = False
    #: Hold the answer (outside the transaction) until work may have arrived, up to this long.
    wait_for_work_seconds: float = 0.0


@dataclass
class Call:
    """One API call in progress: who called, inside which transaction, on which server."""

    conn: Connection
    principal: Principal
    runtime: ServerRuntime
    operation: str
    request_id: str
    region: str
    now: dt.datetime
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # The request's headers (lower-case names).
    headers: dict[str, str] = field(default_factory=dict)
    hints: CallHints = field(default_factory=CallHints)

    @property
    def account_id(self) -> str:
        return self.runtime.account_id

    def arn(self, resource_path: str) -> str:
        return arn("deadline", resource_path, region=self.runtime.region, account=self.runtime.account_id)


Handler = Callable[[Call, Params], Output | None]

_READ_PREFIXES = ("Get", "List", "BatchGet", "Search", "Describe", "Filter")


@dataclass(frozen=True)
class Registered:
    handler: Handler
    writes: bool


HANDLERS: dict[tuple[str, str], Registered] = {}


def operation(
    name: str, *, service: str = "deadline", writes: bool | None = None
) -> Callable[[Handler], Handler]:
    """Register a handler. Reads run in a read transaction; everything else in a write transaction."""

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in HANDLERS:
            raise RuntimeError(f"two handlers for {service}:{name}")
        is_write = writes if writes is not None else not name.startswith(_READ_PREFIXES)
        HANDLERS[key] = Registered(handler, is_write)
        return handler

    return register


def load_handlers() -> dict[tuple[str, str], Registered]:
    """Import every handler module of this package (each registers its operations)."""
    import importlib
    import pkgutil

    from .. import handlers

    for module in pkgutil.iter_modules(handlers.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{handlers.__name__}.{module.name}")
    return HANDLERS
