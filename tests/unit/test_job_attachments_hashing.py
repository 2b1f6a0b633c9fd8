"""Hashing files and the hash cache: consistent reads, concurrent submitters, cancellation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xxhash

from farmhand.job_attachments import (
    FileChangedError,
    HashCache,
    ProgressStatus,
    ProgressTracker,
    TransferCancelledError,
    hash_file,
    list_files,
    snapshot,
    stat_files,
)


def test_a_large_file_hashes_like_xxh3_128_of_its_bytes(tmp_path: Path) -> None:
    data = os.urandom(70 * 1024 * 1024 + 5)  # above the size hashed with a reader thread
    (tmp_path / "big").write_bytes(data)
    digest = hash_file(str(tmp_path / "big"))
    assert digest.hash == xxhash.xxh3_128_hexdigest(data)
    assert digest.size == len(data)


def test_a_file_that_changes_while_it_is_hashed_is_read_again(tmp_path: Path) -> None:
    # Given a file that another process appends to once, during the first read
    path = tmp_path / "growing"
    path.write_bytes(os.urandom(20 * 1024 * 1024))
    appended: list[int] = []

    def append_once(_count: int) -> None:
        if not appended:
            appended.append(1)
            with path.open("ab") as handle:
                handle.write(b"more")
            os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))

    # When it is hashed
    digest = hash_file(str(path), on_bytes=append_once)
    # Then the hash and size describe the file as it is now
    assert digest.hash == xxhash.xxh3_128_hexdigest(path.read_bytes())
    assert digest.size == path.stat().st_size


def test_a_file_that_keeps_changing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "busy.log"
    path.write_bytes(os.urandom(1024 * 1024))

    def append(_count: int) -> None:
        with path.open("ab") as handle:
            handle.write(b"x")

    with pytest.raises(FileChangedError, match=r"busy\.log kept changing"):
        hash_file(str(path), on_bytes=append)


def test_concurrent_submitters_share_one_hash_cache(tmp_path: Path) -> None:
    # Given four processes hashing their own trees into one cache at the same moment
    script = textwrap.dedent(
        """
        import os, sys, time
        from farmhand.job_attachments import HashCache, list_files, snapshot, stat_files
        root, cache, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
        os.makedirs(root)
        for i in range(400):
            with open(os.path.join(root, f"f{i}"), "wb") as handle:
                handle.write(os.urandom(64))
            os.utime(os.path.join(root, f"f{i}"), ns=(10**18, 10**18))
        time.sleep(max(0.0, start - time.time()))
        for _ in range(5):
            snapshot(root, stat_files(list_files(root)), hash_cache=HashCache(cache))
        print("ok")
        """
    )
    start = time.time() + 2.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / f"tree{n}"), str(tmp_path / "cache"), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    # Then none fails (no "database is locked") and every file ends up cached
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and out.strip() == "ok", err
    cache = HashCache(tmp_path / "cache")
    for n in range(4):
        root = str(tmp_path / f"tree{n}")
        _, digests = snapshot(root, stat_files(list_files(root)), hash_cache=cache)
        assert all(d.from_cache for d in digests)


def test_an_unreadable_cache_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / HashCache.FILE_NAME).write_bytes(b"this is not a database" * 100)
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a").write_bytes(b"a")
    manifest, _ = snapshot(str(root), stat_files(list_files(str(root))), hash_cache=HashCache(tmp_path))
    assert len(manifest) == 1


def test_a_progress_callback_returning_false_cancels_hashing(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    for i in range(200):
        (root / f"f{i}").write_bytes(b"x" * 100)
    reports = []

    def stop_at_first(report: object) -> bool:
        reports.append(report)
        return False

    files = stat_files(list_files(str(root)))
    status = ProgressStatus.PREPARING_IN_PROGRESS
    tracker = ProgressTracker(status, len(files), 100 * len(files), stop_at_first)
    with pytest.raises(TransferCancelledError):
        snapshot(str(root), files, tracker=tracker)
    assert len(reports) == 1
    assert reports[0].status == "PREPARING_IN_PROGRESS" and reports[0].progressMessage.startswith("Hashed")
