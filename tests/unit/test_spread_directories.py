"""A worker's sessions directory and its content cache are flagged so that each new session's files
land in a block group of their own (ext4's FS_TOPDIR_FL); elsewhere the flag is refused quietly.

Real directories on this machine's file systems: the test directory's, and /dev/shm (tmpfs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from farmhand._spread_directories import spread_subdirectories, spreads_subdirectories
from farmhand.job_attachments import ContentCache
from farmhand.worker._config import WorkerConfig


def _supports_flag(directory: Path) -> bool:
    probe = directory / "probe"
    probe.mkdir()
    return spread_subdirectories(probe)


def test_the_sessions_directory_and_the_content_cache_spread_their_subdirectories(tmp_path: Path) -> None:
    if not _supports_flag(tmp_path):
        pytest.skip(f"the file system of {tmp_path} has no FS_TOPDIR_FL (not ext4)")
    # Given a worker's data directory and a content cache on ext4
    config = WorkerConfig(farm_id="farm-1", fleet_id="fleet-1", data_dir=tmp_path / "worker")
    # When the worker prepares its data directory and opens its cache
    config.prepare()
    cache = ContentCache(tmp_path / "cache")
    # Then both carry the flag, and flagging again changes nothing
    assert spreads_subdirectories(config.sessions_dir)
    assert spreads_subdirectories(cache.directory)
    assert spread_subdirectories(config.sessions_dir)
    assert spreads_subdirectories(config.sessions_dir)
    assert not spreads_subdirectories(config.logs_dir)
    config.release()


def test_a_file_system_without_the_flag_is_left_as_it_is() -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm (tmpfs) here")
    directory = shm / f"farmhand-spread-{os.getpid()}"
    directory.mkdir()
    try:
        # Given a directory on tmpfs, When it is flagged, Then the flag is refused without an error
        assert spread_subdirectories(directory) is False
        assert spreads_subdirectories(directory) is False
        # and a path that is not a directory is refused the same way
        assert spread_subdirectories(directory / "missing") is False
    finally:
        directory.rmdir()
