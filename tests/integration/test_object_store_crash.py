"""Acknowledged objects and parts survive kill -9 of the farm; bytes that were never acknowledged
leave nothing behind (no partial object, no stray file); a full disk is a clear error, not a torn
object; an interrupted multipart upload resumes from the parts the farm already has."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from _s3_wire import Captured, capture, decoded_headers
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.slow
MiB = 1024 * 1024
GiB = 1024 * MiB
BLOCK = hashlib.sha256(b"block").digest() * (MiB // 32)


def unsigned(server: ServerProcess, call: Callable[[Any], Any]) -> Captured:
    """A request signed with UNSIGNED-PAYLOAD, so any body can follow its headers."""
    return capture(
        server.boto3_session(),
        server.url,
        call,
        s3={"payload_signing_enabled": False},
        request_checksum_calculation="when_required",
    )


def stream_until_killed(server: ServerProcess, request: Captured, size: int, kill_after: int) -> None:
    """Send `request` with a `size`-byte body; kill -9 the server once `kill_after` bytes are in
    its staging area (so the crash hits a body being written, not one still in a socket buffer)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", parts.netloc)
    for name, value in decoded_headers(request).items():
        if name.lower() not in ("expect", "content-length"):
            conn.putheader(name, value)
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    staging = server.data_dir / "objects" / "staging"

    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if sum(p.stat().st_size for p in staging.iterdir()) >= kill_after:
                server.kill()
                return
            time.sleep(0.01)
        server.kill()

    watcher = threading.Thread(target=watch)
    watcher.start()
    sent = 0
    with contextlib.suppress(OSError):
        while sent < size:
            conn.send(BLOCK[: min(len(BLOCK), size - sent)])
            sent += len(BLOCK)
    watcher.join()
    conn.close()
    assert sent < size, "the server was not killed before the whole body was sent"


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def crash_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "farm") as server:
        server.client("s3").create_bucket(Bucket="crash")
        yield server


def test_kill_during_a_1gib_put_leaves_no_partial_object(crash_server: ServerProcess) -> None:
    s3 = crash_server.client("s3")
    s3.put_object(Bucket="crash", Key="Root/Data/kept", Body=b"acknowledged before the crash")
    request = unsigned(crash_server, lambda c: c.put_object(Bucket="crash", Key="Root/Data/big", Body=b"x"))

    stream_until_killed(crash_server, request, GiB, kill_after=64 * MiB)

    with ServerProcess(crash_server.data_dir) as restarted:
        s3 = restarted.client("s3")
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket="crash", Key="Root/Data/big")
        assert missing.value.response["Error"]["Code"] == "404"
        assert (
            s3.get_object(Bucket="crash", Key="Root/Data/kept")["Body"].read()
            == b"acknowledged before the crash"
        )
        assert files_in(restarted.data_dir / "objects" / "staging") == []
        assert files_in(restarted.data_dir / "objects" / "blobs") == []
        s3.put_object(Bucket="crash", Key="Root/Data/big", Body=b"retried")
        assert s3.get_object(Bucket="crash", Key="Root/Data/big")["Body"].read() == b"retried"


def test_kill_during_a_multipart_upload_keeps_the_acknowledged_parts_and_the_upload_resumes(
    crash_server: ServerProcess,
) -> None:
    s3 = crash_server.client("s3")
    parts = [bytes([n]) * (5 * MiB) for n in range(1, 4)] + [b"tail"]
    upload_id = s3.create_multipart_upload(Bucket="crash", Key="Root/Data/multi")["UploadId"]
    etags = {
        n: s3.upload_part(
            Bucket="crash", Key="Root/Data/multi", UploadId=upload_id, PartNumber=n, Body=parts[n - 1]
        )["ETag"]
        for n in (1, 2)
    }
    request = unsigned(
        crash_server,
        lambda c: c.upload_part(
            Bucket="crash", Key="Root/Data/multi", UploadId=upload_id, PartNumber=3, Body=b"x"
        ),
    )
    stream_until_killed(crash_server, request, 256 * MiB, kill_after=16 * MiB)

    with ServerProcess(crash_server.data_dir) as restarted:
        s3 = restarted.client("s3")
        listed = s3.list_parts(Bucket="crash", Key="Root/Data/multi", UploadId=upload_id)
        assert {p["PartNumber"]: p["ETag"] for p in listed["Parts"]} == etags
        with pytest.raises(ClientError):
            s3.head_object(Bucket="crash", Key="Root/Data/multi")
        for n in (3, 4):
            etags[n] = s3.upload_part(
                Bucket="crash", Key="Root/Data/multi", UploadId=upload_id, PartNumber=n, Body=parts[n - 1]
            )["ETag"]
        s3.complete_multipart_upload(
            Bucket="crash",
            Key="Root/Data/multi",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]},
        )
        assert s3.get_object(Bucket="crash", Key="Root/Data/multi")["Body"].read() == b"".join(parts)
        assert files_in(restarted.data_dir / "objects" / "staging") == []
        assert len(files_in(restarted.data_dir / "objects" / "blobs")) == 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose object store sits on a 24 MiB filesystem (tmpfs; the tests run as root in CI)."""
    data_dir = tmp_path / "farm"
    objects = data_dir / "objects"
    objects.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(objects)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small filesystem cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield data_dir
    finally:
        subprocess.run(["umount", "-l", str(objects)], check=False)


def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_object(small_disk: Path) -> None:
    with ServerProcess(small_disk) as server:
        s3 = server.client("s3", retries={"max_attempts": 1})
        s3.create_bucket(Bucket="full")
        s3.put_object(Bucket="full", Key="Root/Data/small", Body=b"fits")
        # A body that cannot fit is refused before it is sent.
        with pytest.raises(ClientError) as full:
            s3.put_object(Bucket="full", Key="Root/Data/huge", Body=BLOCK * 40)
        assert full.value.response["Error"]["Code"] == "InsufficientStorage"
        assert "disk space" in full.value.response["Error"]["Message"]
        assert_absent_here(s3, "Root/Data/huge")
        # Bodies that each fit but not together: the disk fills while they are written.
        bodies = {f"Root/Data/race{n}": bytes([n]) * (9 * MiB) for n in range(3)}
        outcomes: dict[str, str] = {}

        def put(key: str) -> None:
            try:
                s3.put_object(Bucket="full", Key=key, Body=bodies[key])
                outcomes[key] = "stored"
            except ClientError as exc:
                outcomes[key] = str(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=put, args=(key,)) for key in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert "InsufficientStorage" in outcomes.values(), outcomes
        assert set(outcomes.values()) <= {"stored", "InsufficientStorage"}, outcomes
        for key, outcome in outcomes.items():
            if outcome == "stored":
                assert s3.get_object(Bucket="full", Key=key)["Body"].read() == bodies[key]
            else:
                assert_absent_here(s3, key)
        assert files_in(small_disk / "objects" / "staging") == []
        assert s3.get_object(Bucket="full", Key="Root/Data/small")["Body"].read() == b"fits"


def assert_absent_here(s3: Any, key: str) -> None:
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="full", Key=key)
    assert missing.value.response["Error"]["Code"] == "404"


def test_small_objects_filling_the_disk_are_refused_whole_and_the_store_recovers(small_disk: Path) -> None:
    with ServerProcess(small_disk) as server:
        s3 = server.client("s3", retries={"max_attempts": 1})
        s3.create_bucket(Bucket="full")
        stored: list[str] = []
        with pytest.raises(ClientError) as full:
            for index in range(1000):  # 100 KiB objects live in the index: SQLite fills the disk
                key = f"Root/Data/{index:04d}"
                s3.put_object(Bucket="full", Key=key, Body=bytes([index % 256]) * 100_000)
                stored.append(key)
        assert full.value.response["Error"]["Code"] == "InsufficientStorage"
        assert stored, "nothing fitted before the disk was full"
        listed = s3.list_objects_v2(Bucket="full", Prefix="Root/Data/").get("Contents", [])
        assert [c["Key"] for c in listed][: len(stored)] == stored[:1000]
        for key in stored[:: max(1, len(stored) // 10)]:
            index = int(key.rsplit("/", 1)[1])
            assert s3.get_object(Bucket="full", Key=key)["Body"].read() == bytes([index % 256]) * 100_000
        # Deleting objects on the full disk works and gives their space back to new ones.
        half = stored[: len(stored) // 2]
        deleted = s3.delete_objects(Bucket="full", Delete={"Objects": [{"Key": k} for k in half]})
        assert deleted.get("Errors") is None, deleted.get("Errors")
        assert len(deleted["Deleted"]) == len(half)
        for index in range(len(half) // 2):
            s3.put_object(Bucket="full", Key=f"Root/Again/{index:04d}", Body=b"a" * 100_000)
    with ServerProcess(small_disk) as restarted:
        s3 = restarted.client("s3", retries={"max_attempts": 1})
        last = int(stored[-1].rsplit("/", 1)[1])
        assert s3.get_object(Bucket="full", Key=stored[-1])["Body"].read() == bytes([last % 256]) * 100_000
        assert s3.get_object(Bucket="full", Key="Root/Again/0000")["Body"].read() == b"a" * 100_000
