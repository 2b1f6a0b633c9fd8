"""On the farm's own host a worker's inputs come from the farm's store files: many small objects
read a few hundred per query, verified by their hash, kept in the host cache and linked into place.

A real object store on disk, real files; the S3 endpoint is never reached (nothing listens there)."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
import xxhash

from farmhand.job_attachments._content_cache import ContentCache
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


def test_many_inputs_come_from_the_store_files_verified_and_linked(
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
    # Then each is in place byte for byte with its manifest mtime, linked from the host cache
    for entry, data in inputs:
        placed = Path(root, entry.path)
        assert placed.read_bytes() == data
        assert placed.stat().st_mtime_ns == entry.mtime * 1000
    assert summary.linked_files == len(inputs)
    assert len(cache.available([(e.hash, e.size) for e, _ in inputs])) == len(inputs)


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
