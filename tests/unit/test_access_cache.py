"""The access cache on a real SQLite store: reads are kept until a table they depend on changes, and a
read that raced a change is never kept."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, insert, select, update

from farmhand.server.access import AccessCache
from farmhand.server.store import Store, jobs, memberships

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def grant(store: Store, principal: str, level: str) -> None:
    with store.write() as conn:
        conn.execute(
            insert(memberships).values(
                resource_kind="farm",
                resource_id="farm-1",
                principal_id=principal,
                farm_id="farm-1",
                principal_type="USER",
                identity_store_id="store",
                membership_level=level,
                created_at=NOW,
            )
        )


def levels_of(store: Store, cache: AccessCache, principal: str) -> list[str]:
    """One call's read of the principal's levels, through the cache."""
    reads = cache.reads()
    with store.read() as conn:
        return reads.lookup(
            ("levels", principal),
            lambda: list(
                conn.execute(
                    select(memberships.c.membership_level).where(memberships.c.principal_id == principal)
                ).scalars()
            ),
        )


def test_reads_are_kept_until_a_watched_table_changes(store: Store) -> None:
    # Given a cache that has read a user's levels
    cache = AccessCache(store)
    grant(store, "user-1", "VIEWER")
    assert levels_of(store, cache, "user-1") == ["VIEWER"]
    assert levels_of(store, cache, "user-1") == ["VIEWER"]
    assert (cache.hits, cache.misses) == (1, 1)
    # When a write to a table access does not depend on commits (a job's priority)
    with store.write() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == "none").values(priority=1))
    # Then the reads are still kept
    assert levels_of(store, cache, "user-1") == ["VIEWER"]
    assert cache.hits == 2
    # When the membership is removed
    with store.write() as conn:
        conn.execute(delete(memberships).where(memberships.c.principal_id == "user-1"))
    # Then the next call reads the store again and sees it gone
    assert levels_of(store, cache, "user-1") == []
    assert cache.misses == 2


def test_a_rolled_back_change_keeps_the_cache(store: Store) -> None:
    cache = AccessCache(store)
    grant(store, "user-1", "OWNER")
    levels_of(store, cache, "user-1")
    generation = cache.generation
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute(delete(memberships))
        raise RuntimeError("changed its mind")
    assert cache.generation == generation
    assert levels_of(store, cache, "user-1") == ["OWNER"] and cache.hits == 1


def test_a_read_that_raced_a_change_is_not_kept(store: Store) -> None:
    # Given a call that took its reads before a change committed
    cache = AccessCache(store)
    grant(store, "user-1", "VIEWER")
    reads = cache.reads()
    grant(store, "user-2", "VIEWER")  # bumps the generation after its commit
    # When that call reads (what it sees may predate the change)
    with store.read() as conn:
        reads.lookup(
            ("levels", "user-1"), lambda: list(conn.execute(select(memberships.c.membership_level)).scalars())
        )
    # Then it is not kept: the next call reads again
    levels_of(store, cache, "user-1")
    assert cache.misses == 2 and cache.hits == 0


def test_sql_text_writes_are_seen_too(store: Store) -> None:
    cache = AccessCache(store)
    grant(store, "user-1", "VIEWER")
    levels_of(store, cache, "user-1")
    with store.write() as conn:
        conn.exec_driver_sql("DELETE FROM memberships WHERE principal_id = 'user-1'")
    assert levels_of(store, cache, "user-1") == []
