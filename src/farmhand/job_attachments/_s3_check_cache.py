"""The S3 check cache: content objects known to be in a bucket, so they are not asked about again.

Keyed by endpoint, bucket and key (the AWS library keys by bucket only, so a bucket name shared by
two stores would be confused). Entries expire after 30 days. Before trusting it for a submission,
up to 30 of the entries it would use are checked against the store; if any is gone (a lifecycle
rule, a wiped store), every entry of that bucket is forgotten.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ._cache_db import CacheDatabase, default_cache_dir

__all__ = ["S3CheckCache"]

EXPIRY_SECONDS = 30 * 24 * 3600
SAMPLE_SIZE = 30
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS present_v1 (
    endpoint TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (endpoint, bucket, key)
) WITHOUT ROWID;
"""


class S3CheckCache:
    """`farmhand-s3-check.db` in the cache directory (`~/.deadline/cache` unless given)."""

    FILE_NAME = "farmhand-s3-check.db"

    def __init__(self, directory: str | Path | None = None) -> None:
        self.db = CacheDatabase(Path(directory or default_cache_dir()) / self.FILE_NAME, _SCHEMA)

    def present(self, endpoint: str, bucket: str, keys: Sequence[str]) -> set[str]:
        """The keys recorded as present in the last 30 days."""
        conn = self.db.connection()
        oldest = time.time() - EXPIRY_SECONDS
        found: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT key FROM present_v1 WHERE endpoint = ? AND bucket = ? AND seen > ?"
                f" AND key IN ({marks})",
                [endpoint, bucket, oldest, *chunk],
            )
            found.update(row[0] for row in rows)
        return found

    def record(self, endpoint: str, bucket: str, keys: Iterable[str]) -> None:
        now = time.time()
        rows = [(endpoint, bucket, key, now) for key in keys]
        if rows:
            with self.db.write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO present_v1 (endpoint, bucket, key, seen) VALUES (?, ?, ?, ?)",
                    rows,
                )

    def forget_bucket(self, endpoint: str, bucket: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM present_v1 WHERE endpoint = ? AND bucket = ?", (endpoint, bucket))

    def verified_present(
        self, endpoint: str, bucket: str, keys: Sequence[str], missing: Callable[[list[str]], set[str]]
    ) -> set[str]:
        """The cached-present keys, after checking a sample of them with `missing` (the store).

        If the sample finds one gone, the bucket's entries are dropped and nothing is trusted.
        """
        known = self.present(endpoint, bucket, keys)
        if not known:
            return known
        sample = random.sample(sorted(known), min(SAMPLE_SIZE, len(known)))
        if missing(sample):
            self.forget_bucket(endpoint, bucket)
            return set()
        return known
