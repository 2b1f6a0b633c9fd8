"""farmhand's job-attachment transfers against the farm's object store (batch calls) and SeaweedFS
(plain S3): uploads skip what is stored, downloads verify and cache, large uploads resume, and bad
objects or paths are refused with their names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash
from _synthetic_workers import credentials_session
from botocore.exceptions import ClientError

from _seaweedfs import SeaweedFS
from farmhand.job_attachments import (
    ContentCache,
    ContentUpload,
    FileToPlace,
    HashCache,
    Manifest,
    ManifestEntry,
    ObjectIntegrityError,
    ObjectMissingError,
    ObjectStorage,
    PathOutsideRootError,
    S3CheckCache,
    StorageAccessError,
    StorageSettings,
    destination_in,
    download_files,
    list_files,
    snapshot,
    stat_files,
    upload_contents,
)
from farmhand.job_attachments._farm_batch import FarmBatchClient
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(240)

BUCKET = "attachment-transfers"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any, str]]:
    """A server, its bucket, and queue-role credentials limited to the queue's prefix."""
    with ServerProcess(tmp_path_factory.mktemp("farm")) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        deadline = server.client("deadline")
        farm_id = deadline.create_farm(displayName="transfers")["farmId"]
        queue_id = deadline.create_queue(
            farmId=farm_id,
            displayName="transfers",
            jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": "Root"},
        )["queueId"]
        credentials = deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)["credentials"]
        yield server, credentials_session(credentials), "Root"


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweed")) as store:
        store.client("s3").create_bucket(Bucket=BUCKET)
        yield store


def make_tree(root: Path, count: int = 150) -> None:
    for index in range(count):
        path = root / f"dir{index % 7}" / f"file{index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + index))
    (root / "empty.txt").write_bytes(b"")
    (root / "medium.bin").write_bytes(os.urandom(600_000))
    (root / "large.bin").write_bytes(os.urandom(20 * 1024 * 1024 + 7))
    (root / "copy.bin").write_bytes((root / "dir0" / "file0.bin").read_bytes())  # same content twice


def hashed(root: Path, cache_dir: Path) -> tuple[Manifest, list[ContentUpload]]:
    manifest, digests = snapshot(
        str(root), stat_files(list_files(str(root))), hash_cache=HashCache(cache_dir)
    )
    return manifest, [ContentUpload(d.hash, d.path, d.size, d.mtime_ns) for d in digests]


def placements(manifest: Manifest, root: Path) -> list[tuple[str, FileToPlace]]:
    return [(str(root), FileToPlace(e, destination_in(str(root), e.path))) for e in manifest]


def assert_same_tree(left: Path, right: Path) -> None:
    names = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    for name in names:
        assert (left / name).read_bytes() == (right / name).read_bytes(), name
        assert (left / name).stat().st_mtime_ns // 1000 == (right / name).stat().st_mtime_ns // 1000


def roundtrip(storage: ObjectStorage, tmp_path: Path) -> None:
    source = tmp_path / "source"
    make_tree(source)
    manifest, uploads = hashed(source, tmp_path / "hc")
    checks = S3CheckCache(tmp_path / "cc")
    # When it is uploaded
    first = upload_contents(storage, uploads, check_cache=checks, state_dir=tmp_path / "state")
    # Then each distinct content is sent once, under its hash, in the AWS layout
    assert first.processed_files == len({u.hash for u in uploads}) and first.skipped_files == 0
    for upload in uploads[:5]:
        stored = storage.get_bytes(f"{storage.settings.root_prefix}/Data/{upload.hash}.xxh128")[0]
        assert xxhash.xxh3_128_hexdigest(stored) == upload.hash
    # And a second upload, even with an empty check cache, sends nothing
    again = upload_contents(storage, uploads, check_cache=S3CheckCache(tmp_path / "cc2"))
    assert again.processed_files == 0 and again.skipped_files == first.processed_files
    # When it is downloaded twice through one host cache
    cache = ContentCache(tmp_path / "host-cache")
    once = download_files(storage, placements(manifest, tmp_path / "session1"), cache=cache)
    twice = download_files(storage, placements(manifest, tmp_path / "session2"), cache=cache)
    # Then both copies are the source, the second one all from the cache, hard-linked (but the
    # copy of file0, whose mtime differs from the cached inode's, which is copied locally)
    assert_same_tree(source, tmp_path / "session1")
    assert_same_tree(source, tmp_path / "session2")
    assert once.processed_bytes > 0
    assert twice.processed_bytes == 0 and twice.linked_files == len(manifest) - 1


def test_the_farm_answers_in_batches(farm: Any, tmp_path: Path) -> None:
    server, session, prefix = farm
    with ObjectStorage(session, StorageSettings(BUCKET, prefix), endpoint_url=server.url) as storage:
        assert storage.batch() is not None
        roundtrip(storage, tmp_path)


def test_plain_s3_calls_against_the_farm(farm: Any, tmp_path: Path) -> None:
    server, session, _prefix = farm
    settings = StorageSettings(BUCKET, "Root/plain")
    with ObjectStorage(session, settings, endpoint_url=server.url, use_batches=False) as storage:
        roundtrip(storage, tmp_path)


def test_seaweedfs_has_no_batch_calls_and_works_the_same(seaweed: SeaweedFS, tmp_path: Path) -> None:
    settings = StorageSettings(BUCKET, "Root")
    with ObjectStorage(seaweed.session(), settings, endpoint_url=seaweed.url) as storage:
        assert storage.batch() is None
        roundtrip(storage, tmp_path)


def test_an_interrupted_large_upload_resumes_without_resending_its_parts(farm: Any, tmp_path: Path) -> None:
    server, session, prefix = farm
    big = tmp_path / "scene.bin"
    big.write_bytes(os.urandom(96 * 1024 * 1024))
    _, [upload] = hashed(tmp_path, tmp_path / "hc")
    state = tmp_path / "state"
    with ObjectStorage(
        session, StorageSettings(BUCKET, prefix + "/resume"), endpoint_url=server.url
    ) as storage:
        # Given an upload whose connection fails after three of its six parts
        real_upload_part = storage.s3.upload_part
        sent: list[int] = []

        def failing_upload_part(**kwargs: Any) -> Any:
            if len(sent) >= 3:
                raise ConnectionResetError("the connection dropped")
            sent.append(kwargs["PartNumber"])
            return real_upload_part(**kwargs)

        storage.s3.upload_part = failing_upload_part
        with pytest.raises(ConnectionResetError):
            upload_contents(storage, [upload], state_dir=state)
        assert list(state.iterdir()), "the upload's state is kept for the next attempt"
        assert not storage.exists(storage.settings.data_key(upload.hash))
        # When it is started again
        resent: list[int] = []

        def counting_upload_part(**kwargs: Any) -> Any:
            resent.append(len(kwargs["Body"]))
            return real_upload_part(**kwargs)

        storage.s3.upload_part = counting_upload_part
        upload_contents(storage, [upload], state_dir=state)
        # Then only what was missing is sent, and the object is whole
        assert 0 < sum(resent) <= 0.5 * upload.size
        stored = storage.get_bytes(storage.settings.data_key(upload.hash))[0]
        assert xxhash.xxh3_128_hexdigest(stored) == upload.hash
        assert not list(state.iterdir())


def test_a_corrupt_or_missing_object_is_not_used(farm: Any, tmp_path: Path) -> None:
    server, session, prefix = farm
    settings = StorageSettings(BUCKET, prefix + "/bad")
    good, bad, gone = b"good bytes", b"the bytes", b"never uploaded"
    digest = {data: xxhash.xxh3_128_hexdigest(data) for data in (good, bad, gone)}
    admin = server.client("s3")
    admin.put_object(Bucket=BUCKET, Key=settings.data_key(digest[good]), Body=good)
    admin.put_object(Bucket=BUCKET, Key=settings.data_key(digest[bad]), Body=b"other bytes")
    manifest_of = {
        name: Manifest([ManifestEntry(f"{name}.txt", digest[data], len(data), 1_700_000_000_000_000)])
        for name, data in (("good", good), ("bad", bad), ("gone", gone))
    }
    for use_batches in (True, False):
        with ObjectStorage(session, settings, endpoint_url=server.url, use_batches=use_batches) as storage:
            out = tmp_path / f"out-{use_batches}"
            download_files(storage, placements(manifest_of["good"], out))
            assert (out / "good.txt").read_bytes() == good
            with pytest.raises(ObjectIntegrityError, match=digest[bad]):
                download_files(
                    storage, placements(manifest_of["bad"], out), cache=ContentCache(tmp_path / "c")
                )
            assert not (out / "bad.txt").exists()
            with pytest.raises(
                ObjectMissingError, match=rf"{digest[gone]}\.xxh128 does not exist.*gone\.txt"
            ):
                download_files(storage, placements(manifest_of["gone"], out))
            assert not (out / "gone.txt").exists()


def test_a_symlink_in_the_destination_is_not_followed(farm: Any, tmp_path: Path) -> None:
    server, session, prefix = farm
    data = b"payload"
    settings = StorageSettings(BUCKET, prefix + "/links")
    server.client("s3").put_object(
        Bucket=BUCKET, Key=settings.data_key(xxhash.xxh3_128_hexdigest(data)), Body=data
    )
    manifest = Manifest([ManifestEntry("sub/x.txt", xxhash.xxh3_128_hexdigest(data), len(data), 1)])
    outside = tmp_path / "outside"
    outside.mkdir()
    session_dir = tmp_path / "session"
    session_dir.mkdir()
    (session_dir / "sub").symlink_to(outside)
    storage = ObjectStorage(session, settings, endpoint_url=server.url)
    with storage, pytest.raises(PathOutsideRootError, match="sub"):
        download_files(storage, placements(manifest, session_dir))
    assert list(outside.iterdir()) == []


def test_batch_calls_are_authorised_per_key_and_checked_per_item(farm: Any) -> None:
    server, session, prefix = farm
    credentials = session.get_credentials()
    client = FarmBatchClient(server.url, BUCKET, credentials, "us-west-2")
    content = b"checked"
    digest = xxhash.xxh3_128_hexdigest(content)
    # Outside the queue's prefix: refused, nothing stored
    with pytest.raises(StorageAccessError, match="AccessDenied"):
        client.put([(f"Other/Data/{digest}.xxh128", content)])
    with pytest.raises(StorageAccessError, match="AccessDenied"):
        client.missing([f"Other/Data/{digest}.xxh128"])
    # Bytes that do not hash to the key: refused, nothing stored
    with pytest.raises(StorageAccessError, match="BadDigest"):
        client.put([(f"{prefix}/Data/{'0' * 32}.xxh128", content)])
    assert client.missing([f"{prefix}/Data/{'0' * 32}.xxh128"]) == [f"{prefix}/Data/{'0' * 32}.xxh128"]
    # A key that is not a content key: refused
    with pytest.raises(StorageAccessError, match="not a content key"):
        client.put([(f"{prefix}/Manifests/x", content)])
    # And a good item is stored where a PUT would have put it
    client.put([(f"{prefix}/Data/{digest}.xxh128", content)])
    stored = (
        server.client("s3").get_object(Bucket=BUCKET, Key=f"{prefix}/Data/{digest}.xxh128")["Body"].read()
    )
    assert stored == content
    with pytest.raises(ClientError):
        server.client("s3").head_object(Bucket=BUCKET, Key=f"Other/Data/{digest}.xxh128")
