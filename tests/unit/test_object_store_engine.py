"""The storage engine on its own: what start-up finds after a crash at each step of a write, upload
expiry, listings, and the files a multipart object is made of."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from farmhand.server.object_store import MIN_PART_BYTES, ObjectStore, S3Error, StoreFiles


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    opened = ObjectStore(tmp_path / "objects")
    opened.create_bucket("jobs")
    return opened


def staged(store: ObjectStore, data: bytes) -> object:
    blob = store.stage()
    blob.write(data)
    blob.finish()
    return blob


def test_a_blob_never_committed_is_removed_at_start(tmp_path: Path, store: ObjectStore) -> None:
    # Given bytes written to staging/ whose object was never committed (the server died)
    staged(store, b"x" * 1000)
    store.close()
    # When the store opens again, Then staging/ is empty and nothing is visible
    reopened = ObjectStore(tmp_path / "objects")
    assert os.listdir(tmp_path / "objects" / "staging") == []
    assert reopened.list_objects("jobs").contents == []


def test_a_committed_blob_still_in_staging_is_moved_in_at_start(tmp_path: Path, store: ObjectStore) -> None:
    # Given an object committed whose blob had not yet left staging/ when the server died
    blob = staged(store, b"y" * 200_000)
    store.put_object("jobs", "Root/Data/a", blob, etag="e" * 32).result()  # type: ignore[arg-type]
    [blob_name] = os.listdir(tmp_path / "objects" / "blobs")
    store.close()
    os.rename(tmp_path / "objects" / "blobs" / blob_name, tmp_path / "objects" / "staging" / blob_name)
    with sqlite3.connect(tmp_path / "objects" / "index.sqlite3") as index:
        index.execute("INSERT OR IGNORE INTO landed (blob) VALUES (?)", (blob_name,))
    # When the store opens again, Then the object reads back whole
    reopened = ObjectStore(tmp_path / "objects")
    assert reopened.read_object("jobs", "Root/Data/a", 10**6) == b"y" * 200_000
    assert os.listdir(tmp_path / "objects" / "staging") == []


def test_replaced_blobs_are_deleted_and_readers_keep_what_they_opened(
    tmp_path: Path, store: ObjectStore
) -> None:
    store.write_object("jobs", "k/v", b"1" * 300_000, "binary/octet-stream")
    reader = store.open_object("jobs", "k/v")
    assert reader is not None
    store.write_object("jobs", "k/v", b"2" * 300_000, "binary/octet-stream")
    store.write_object("jobs", "k/v", b"3" * 300_000, "binary/octet-stream")  # collects the first's garbage
    assert reader.read() == b"1" * 300_000
    reader.close()
    assert store.read_object("jobs", "k/v", 10**6) == b"3" * 300_000
    assert len(os.listdir(tmp_path / "objects" / "blobs")) == 1


def test_completing_an_upload_copies_nothing_and_the_object_is_its_parts_files(store: ObjectStore) -> None:
    upload_id = store.create_upload("jobs", "big/file")
    parts = [b"a" * MIN_PART_BYTES, b"b" * 100]
    etags = []
    for number, data in enumerate(parts, 1):
        blob = staged(store, data)
        etags.append(
            store.put_part("jobs", "big/file", upload_id, number, blob, f"{number:032x}", {}).result().etag  # type: ignore[arg-type]
        )
    part_files = sorted(os.listdir(store.blobs))
    info = store.complete_upload("jobs", "big/file", upload_id, list(zip([1, 2], etags, strict=True)))
    assert info.size == MIN_PART_BYTES + 100
    files = store.object_files("jobs", "big/file")
    assert files is not None
    assert sorted(path.name for path, _ in files) == part_files
    assert store.read_object("jobs", "big/file", 10**8) == b"".join(parts)


def test_uploads_older_than_seven_days_expire_with_their_parts(store: ObjectStore) -> None:
    old = store.create_upload("jobs", "stale/file")
    fresh = store.create_upload("jobs", "fresh/file")
    store.put_part("jobs", "stale/file", old, 1, staged(store, b"p" * 10), "0" * 32, {}).result()  # type: ignore[arg-type]
    with sqlite3.connect(store.index.path) as index:
        index.execute("UPDATE uploads SET created = ? WHERE upload_id = ?", (time.time() - 8 * 86400, old))
    store.housekeep()
    with pytest.raises(S3Error) as gone:
        store.list_parts("jobs", "stale/file", old)
    assert gone.value.code == "NoSuchUpload"
    assert store.list_parts("jobs", "fresh/file", fresh) == ([], False)
    store.write_object("jobs", "nudge", b"x", "text/plain")  # the next commit deletes collected blobs
    assert os.listdir(store.blobs) == []


def test_listing_pages_through_keys_and_common_prefixes_in_utf8_order(store: ObjectStore) -> None:
    keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "\u00e9/1", "\U0001f600"]
    for key in keys:
        store.put_object("jobs", key, b"x").result()
    seen: list[str] = []
    after, is_prefix = None, False
    while True:
        page = store.list_objects("jobs", "", "/", after, 2, after_is_prefix=is_prefix)
        seen += page.common_prefixes + [info.key for info in page.contents]
        if not page.truncated:
            break
        after = page.last
        is_prefix = bool(page.common_prefixes) and page.last == page.common_prefixes[-1]
    assert sorted(seen, key=lambda s: s.encode()) == ["a/", "b", "c/", "\u00e9/", "\U0001f600"]


def test_copy_to_writes_the_whole_object_from_its_blobs_or_the_index(
    tmp_path: Path, store: ObjectStore
) -> None:
    upload_id = store.create_upload("jobs", "big/file")
    parts = [os.urandom(MIN_PART_BYTES), os.urandom(1000)]
    etags = [
        store.put_part("jobs", "big/file", upload_id, n, staged(store, data), f"{n:032x}", {}).result().etag  # type: ignore[arg-type]
        for n, data in enumerate(parts, 1)
    ]
    store.complete_upload("jobs", "big/file", upload_id, list(zip([1, 2], etags, strict=True)))
    store.put_object("jobs", "small/file", b"tiny").result()

    assert store.copy_to("jobs", "big/file", tmp_path / "big") is not None
    assert (tmp_path / "big").read_bytes() == b"".join(parts)
    assert store.copy_to("jobs", "small/file", tmp_path / "small") is not None
    assert (tmp_path / "small").read_bytes() == b"tiny"
    assert oct((tmp_path / "small").stat().st_mode & 0o777) == "0o600"
    assert store.copy_to("jobs", "missing", tmp_path / "missing") is None
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_another_process_on_the_host_reads_objects_by_the_store_files(store: ObjectStore) -> None:
    # Given a small object kept in the index, a large one in a blob, and one replaced since
    store.create_bucket("jobs", exist_ok=True)
    store.write_object("jobs", "Root/Data/small", b"s" * 100, "binary/octet-stream")
    store.write_object("jobs", "Root/Data/large", b"L" * 300_000, "binary/octet-stream")
    store.write_object("jobs", "Root/Data/large", b"M" * 300_001, "binary/octet-stream")
    # When a reader opens the store's directory read-only
    files = StoreFiles(store.root)
    # Then it reads each object whole as it is now, and nothing it must not
    assert files.available()
    assert files.read("jobs", "Root/Data/small", 1 << 20) == b"s" * 100
    assert files.read("jobs", "Root/Data/large", 1 << 20) == b"M" * 300_001
    assert files.read("jobs", "Root/Data/large", 1000) is None  # over the size it may take
    assert files.read("jobs", "Root/Data/none", 1 << 20) is None
    assert files.read("other", "Root/Data/small", 1 << 20) is None
    assert not StoreFiles(store.root / "nowhere").available()


def test_the_store_files_are_read_many_keys_per_query_in_the_order_asked(store: ObjectStore) -> None:
    # Given more small objects than one query asks for, a large one in a blob, and one replaced since
    store.create_bucket("jobs", exist_ok=True)
    small = {f"Root/Data/{n:04}": f"object {n}".encode() for n in range(1200)}
    for key, data in small.items():
        store.write_object("jobs", key, data, "binary/octet-stream")
    store.write_object("jobs", "Root/Data/large", b"L" * 300_000, "binary/octet-stream")
    store.write_object("jobs", "Root/Data/large", b"M" * 300_001, "binary/octet-stream")
    files = StoreFiles(store.root)
    # When a reader asks for all of them (reversed), a missing key among them, with a size limit
    keys = [*reversed(small), "Root/Data/large", "Root/Data/none"]
    found = list(files.read_many("jobs", keys, 1 << 20))
    # Then every key is answered once, in the order asked, with the object as it is now or None
    assert [key for key, _ in found] == keys
    assert dict(found) == {**small, "Root/Data/large": b"M" * 300_001, "Root/Data/none": None}
    # And what it may not take (over the size limit, another bucket) is None too
    assert dict(files.read_many("jobs", ["Root/Data/large", "Root/Data/0001"], 1000)) == {
        "Root/Data/large": None,
        "Root/Data/0001": b"object 1",
    }
    assert dict(files.read_many("other", ["Root/Data/0001"], 1 << 20)) == {"Root/Data/0001": None}
