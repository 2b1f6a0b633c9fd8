"""Long-lived PostgreSQL connections of their own, for listening, publishing and holding locks.

They are taken from the store's engine (so they connect exactly as the store does) and detached from
its pool: a LISTEN or a session's advisory lock must stay on one connection for as long as it is
needed, which a pooled connection handed back after each transaction cannot promise.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Engine

# Server-side keepalives on these sessions, so the database notices a server that vanished from the
# network (not only one whose process died) within about 25 s and releases what it held.
KEEPALIVE_SETTINGS = (
    "SET tcp_keepalives_idle = 10",
    "SET tcp_keepalives_interval = 5",
    "SET tcp_keepalives_count = 3",
)


def dedicated_connection(engine: Engine) -> Any:
    """A psycopg connection in autocommit mode that belongs to the caller alone (close it when done)."""
    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    assert conn is not None
    pooled.detach()
    conn.autocommit = True
    for statement in KEEPALIVE_SETTINGS:
        conn.execute(statement)
    return conn


def close_quietly(conn: Any) -> None:
    if conn is None:
        return
    with contextlib.suppress(Exception):  # a broken connection has nothing left to close
        conn.close()
