"""The signing-key cache on a real SQLite store: a key is read once and kept (an idle worker's next
long poll finds it), and dropped as soon as a transaction changes or deletes keys.

Also what the store reports as changed: an update or delete that matched no row wrote nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from farmhand.server._identity import (
    SigningKeyCache,
    ensure_principal,
    mint_temporary_credentials,
    prune_expired_keys,
)
from farmhand.server.farm_secret import FarmSecret, attach_farm_secret
from farmhand.server.store import Changes, Store, access_keys, jobs, sqlite_url


@pytest.fixture
def keyed_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(sqlite_url(tmp_path))
    attach_farm_secret(store, FarmSecret.generate())
    with store.write() as conn:
        ensure_principal(conn, "worker-1", "arn:aws:sts::1:assumed-role/w/worker-1", "worker", "w")
    yield store
    store.dispose()


def mint(store: Store, lifetime: dt.timedelta = dt.timedelta(hours=1)) -> str:
    with store.write() as conn:
        credentials = mint_temporary_credentials(conn, "worker-1", {"fleetId": "fleet-1"}, lifetime)
    return str(credentials["accessKeyId"])


class CountingReads:
    """Counts the cache's reads of the store (each is a query and two unseals)."""

    def __init__(self, cache: SigningKeyCache) -> None:
        self.count = 0
        read = cache.store.read

        def counted():  # type: ignore[no-untyped-def]
            self.count += 1
            return read()

        cache.store.read = counted  # type: ignore[method-assign]


def test_a_key_is_read_once_and_dropped_when_keys_are_changed_or_deleted(keyed_store: Store) -> None:
    # Given a cache that has looked up a worker's key
    cache = SigningKeyCache(keyed_store)
    reads = CountingReads(cache)
    key_id = mint(keyed_store)
    found = cache.lookup(key_id)
    assert found is not None and found[0].access_key_id == key_id
    # When it is looked up again, and other keys are minted meanwhile
    mint(keyed_store)
    assert cache.lookup(key_id) == found
    # Then the store was read once
    assert reads.count == 1
    # When a transaction changes a key (a revocation), the next lookup reads the store again
    with keyed_store.write() as conn:
        conn.execute(
            update(access_keys)
            .where(access_keys.c.access_key_id == key_id)
            .values(scope={"fleetId": "other"})
        )
    again = cache.lookup(key_id)
    assert reads.count == 2 and again is not None and again[1].scope == {"fleetId": "other"}
    # And when the key is deleted, it no longer authenticates at once
    with keyed_store.write() as conn:
        conn.execute(delete(access_keys).where(access_keys.c.access_key_id == key_id))
    assert cache.lookup(key_id) is None


def test_pruning_deletes_only_keys_long_expired(keyed_store: Store) -> None:
    # Given a key that expired two hours ago, one that expired a minute ago and a valid one
    old = mint(keyed_store, dt.timedelta(hours=-2))
    recent = mint(keyed_store, dt.timedelta(minutes=-1))
    valid = mint(keyed_store)
    cache = SigningKeyCache(keyed_store)
    # When the housekeeping prunes keys
    prune_expired_keys(keyed_store)
    # Then only the long-expired one is gone
    assert cache.lookup(old) is None
    assert cache.lookup(recent) is not None and cache.lookup(valid) is not None


def test_updates_and_deletes_that_match_no_row_are_not_changes(keyed_store: Store) -> None:
    seen: list[Changes] = []
    keyed_store.committed.append(seen.append)
    # Given writes that match nothing
    with keyed_store.write() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == "none").values(priority=1))
        conn.execute(delete(access_keys).where(access_keys.c.access_key_id == "none"))
    # Then no change is reported
    assert seen == []
    # When a write matches a row
    mint(keyed_store)
    with keyed_store.write() as conn:
        conn.execute(update(access_keys).values(scope=None))
    # Then its table and kind are reported
    assert seen[-2] == frozenset({("access_keys", "insert")})
    assert seen[-1] == frozenset({("access_keys", "update")})
