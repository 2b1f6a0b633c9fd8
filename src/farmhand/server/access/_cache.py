"""What access checks read from the store, kept between calls until something it depends on changes.

A farm user's call reads the user (enabled?), its groups and its memberships on the farm; scoped
credentials read whether their queue, fleet or worker still exists. Those rows change rarely, while
every call needs them: reading them each time is most of what an access check costs.

Entries are tagged with the cache's generation as it was when the reading transaction began. Every
committed transaction that wrote a table they depend on bumps the generation after its commit, so an
entry read before a change, or in a snapshot older than it, is never used again: revocation (a
deleted user, queue, fleet or worker, a disabled user, a removed membership) takes effect on the next
call, as without the cache. This holds where this server is the store's only writer (SQLite). With
several servers on one PostgreSQL database another server's change would go unseen, so there the
cache stays off and every call reads the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from ..store import Changes, Store

__all__ = ["UNCACHED", "AccessCache", "CachedReads"]

T = TypeVar("T")

#: Tables whose changes can change an access decision, and which changes count. Workers and
#: resources are only ever looked up for existence (and workers are updated on every heartbeat).
WATCHED: dict[str, frozenset[str]] = {
    "users": frozenset({"insert", "update", "delete"}),
    "user_groups": frozenset({"insert", "update", "delete"}),
    "group_members": frozenset({"insert", "update", "delete"}),
    "principals": frozenset({"insert", "update", "delete"}),
    "memberships": frozenset({"insert", "update", "delete"}),
    "resources": frozenset({"insert", "delete"}),
    "workers": frozenset({"insert", "delete"}),
    "jobs": frozenset({"delete"}),
}
MAX_ENTRIES = 50_000


class AccessCache:
    """Access-check reads, valid until a watched table changes (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self.enabled = store.is_sqlite
        self.generation = 0
        self.hits = 0
        self.misses = 0
        self._entries: dict[Hashable, tuple[int, Any]] = {}
        self._lock = threading.Lock()
        if self.enabled:
            store.committed.append(self._committed)

    def _committed(self, changes: Changes) -> None:
        if any(kind in WATCHED.get(table, ()) for table, kind in changes):
            self.invalidate()

    def invalidate(self) -> None:
        """Forget everything read so far."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def reads(self) -> CachedReads:
        """For one call: take it before the call's transaction begins."""
        return CachedReads(self, self.generation)

    def lookup(self, key: Hashable, generation: int, read: Callable[[], T]) -> T:
        """The value of `key`: cached, or read now and kept. `generation` is the cache's generation
        as it was before the reading transaction began (`self.generation` then)."""
        if not self.enabled:
            return read()
        found = self._entries.get(key)
        if found is not None and found[0] == self.generation:
            self.hits += 1
            value: T = found[1]
            return value
        self.misses += 1
        value = read()
        with self._lock:
            if generation == self.generation:  # nothing changed since the transaction began
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (generation, value)
        return value


class CachedReads:
    """One call's reads through the cache, tagged with the generation seen before its transaction."""

    def __init__(self, cache: AccessCache | None, generation: int = 0) -> None:
        self.cache = cache
        self.generation = generation

    def lookup(self, key: Hashable, read: Callable[[], T]) -> T:
        if self.cache is None:
            return read()
        return self.cache.lookup(key, self.generation, read)


#: Reads straight from the store (no cache), e.g. outside a server.
UNCACHED = CachedReads(None)
