"""On the farm's own host a worker's inputs come from the farm's store files: many small objects
read a few hundred per query, verified by their hash and written straight into place (the store is
the host's copy; nothing is kept a second time in the host cache).

A real object store on disk, real files; the S3 endpoint is never reached (nothing listens there)."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
import xxhash

from farmhand.job_attachments._content_cache import ContentCache, place_new_bytes
from farmhand.job_attachments._download import FileToPlace, destination_in, download_files
from farmhand.job_attachments._errors import ObjectIntegrityError
from farmhand.job_attachments._layout import StorageSettings
from farmhand.job_attachments._manifest import ManifestEntry
from farmhand.job_attachments._storage import ObjectStorage
from farmhand.server.object_store import ObjectStore, StoreFiles

SETTINGS = StorageSettings("jobs", "Root")
MTIME_US = 1_700_000_000_000_000


@pytest.fixture
def farm_store(tmp_path: Path) -> ObjectStore:
    store = ObjectStore(tmp_path / "objects")
    store.create_bucket("jobs")
    return store


@pytest.fixture
def unreachable_storage() -> ObjectStorage:
    session = boto3.Session(
        aws_access_key_id="unused", aws_secret_access_key="unused", region_name="us-west-2"
    )
    return ObjectStorage(session, SETTINGS, endpoint_url="http://127.0.0.1:9", use_batches=False)


def _inputs(store: ObjectStore, count: int) -> list[tuple[ManifestEntry, bytes]]:
    made = []
    for n in range(count):
        data = os.urandom(64) + str(n).encode()
        digest = xxhash.xxh3_128_hexdigest(data)
        store.write_object("jobs", SETTINGS.data_key(digest), data, "binary/octet-stream")
        made.append((ManifestEntry(f"d{n % 7}/f{n}.bin", digest, len(data), MTIME_US + n), data))
    return made


def test_many_inputs_come_from_the_store_files_verified_and_written_in_place(
    tmp_path: Path, farm_store: ObjectStore, unreachable_storage: ObjectStorage
) -> None:
    # Given 1,100 small inputs in the farm's store (more than one query and one write batch)
    inputs = _inputs(farm_store, 1100)
    cache = ContentCache(tmp_path / "cache", farm_objects=StoreFiles(farm_store.root))
    root = str(tmp_path / "session" / "root")
    # When a session's inputs are synced on the farm's host
    summary = download_files(
        unreachable_storage,
        [(root, FileToPlace(entry, destination_in(root, entry.path))) for entry, _ in inputs],
        cache=cache,
    )
    # Then each is in place byte for byte with its manifest mtime, a file of its own (not a link
    # to a second copy in the host cache)
    for entry, data in inputs:
        placed = Path(root, entry.path)
        assert placed.read_bytes() == data
        assert placed.stat().st_mtime_ns == entry.mtime * 1000
        assert placed.stat().st_nlink == 1
    assert summary.linked_files == 0
    assert len(summary.downloaded_files) == len(inputs)
    assert cache.available([(e.hash, e.size) for e, _ in inputs]) == {}


def test_an_object_of_the_store_that_is_not_its_hash_is_not_used(
    tmp_path: Path, farm_store: ObjectStore, unreachable_storage: ObjectStorage
) -> None:
    # Given inputs of which one is stored with other bytes than those its hash names
    inputs = _inputs(farm_store, 300)
    bad, _ = inputs[150]
    farm_store.write_object("jobs", SETTINGS.data_key(bad.hash), b"tampered", "binary/octet-stream")
    bad = ManifestEntry(bad.path, bad.hash, len(b"tampered"), bad.mtime)
    inputs[150] = (bad, b"tampered")
    cache = ContentCache(tmp_path / "cache", farm_objects=StoreFiles(farm_store.root))
    root = str(tmp_path / "session" / "root")
    # When they are synced, Then the sync fails naming the object, and that file is not placed
    with pytest.raises(ObjectIntegrityError, match=bad.hash):
        download_files(
            unreachable_storage,
            [(root, FileToPlace(entry, destination_in(root, entry.path))) for entry, _ in inputs],
            cache=cache,
        )
    assert not Path(root, bad.path).exists()
    assert bad.hash not in cache.available([(bad.hash, bad.size)])


def test_an_existing_file_is_replaced_and_a_planted_link_never_written_through(tmp_path: Path) -> None:
    # Given a file and a symbolic link (to a file outside) already at two destinations
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    session = tmp_path / "session"
    session.mkdir()
    (session / "old.txt").write_bytes(b"old contents, longer than the new ones")
    (session / "link.txt").symlink_to(outside)
    # When new contents are placed at each of them and at a free name
    for name in ("old.txt", "link.txt", "new.txt"):
        place_new_bytes(b"new", str(session / name), MTIME_US)
    # Then each holds the new bytes with the mtime, the link was replaced, its target is untouched
    for name in ("old.txt", "link.txt", "new.txt"):
        placed = session / name
        assert not placed.is_symlink()
        assert placed.read_bytes() == b"new"
        assert placed.stat().st_mtime_ns == MTIME_US * 1000
    assert outside.read_bytes() == b"keep me"
    assert sorted(p.name for p in session.iterdir()) == ["link.txt", "new.txt", "old.txt"]


def test_a_write_that_fails_leaves_no_file(tmp_path: Path) -> None:
    # Given a destination, and bytes that cannot be read once the file is created (a released view)
    destination = tmp_path / "f.bin"
    # When they are placed
    data = memoryview(bytearray(b"x" * 1024))
    data.release()
    with pytest.raises(ValueError):
        place_new_bytes(data, str(destination), MTIME_US)
    # Then no file is left at the destination
    assert not destination.exists()
