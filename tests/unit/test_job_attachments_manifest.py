"""Manifests: byte-identical with the AWS job-attachments library for the same tree, and validated."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from deadline.job_attachments.asset_manifests import decode as aws_decode
from deadline.job_attachments.upload import S3AssetManager

from farmhand.job_attachments import (
    HashCache,
    Manifest,
    ManifestEntry,
    ManifestError,
    PathOutsideRootError,
    list_files,
    snapshot,
    stat_files,
    xxh128_hex,
)

# Names whose order differs between code points and UTF-16 code units (the astral "𝄞" sorts
# before "\uff5e" in UTF-16), non-ASCII names, spaces, nested folders, an empty file.
TREE = {
    "a.txt": b"alpha\n",
    "B.txt": b"capital\n",
    "dir/nested/deep.bin": os.urandom(300_000),
    "dir/z.txt": b"zed",
    "\uff5e wide.txt": b"fullwidth tilde",
    "\U0001d11e clef.txt": b"astral",
    "caf\u00e9/menu.txt": b"accents",
    "space name/file with spaces.txt": b"spaces",
    "empty.txt": b"",
    "big.bin": os.urandom(9 * 1024 * 1024 + 17),
}


def make_tree(root: Path) -> None:
    for relative, data in TREE.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # mtimes with sub-microsecond parts, to check the rounding
    os.utime(root / "a.txt", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))


def aws_manifest(root: Path, tmp_path: Path) -> bytes:
    manager = S3AssetManager()
    files = [str(root / name) for name in TREE]
    groups = manager.prepare_paths_for_upload(input_paths=files, output_paths=[], referenced_paths=[])
    _, manifests = manager.hash_assets_and_create_manifest(
        groups.asset_groups,
        groups.total_input_files,
        groups.total_input_bytes,
        hash_cache_dir=str(tmp_path / "aws-cache"),
    )
    [group] = manifests
    assert group.root_path == str(root)
    return group.asset_manifest.encode().encode("utf-8")


def test_the_same_tree_gives_the_aws_librarys_bytes_and_hash(tmp_path: Path) -> None:
    # Given a tree with awkward names
    root = tmp_path / "project"
    make_tree(root)
    # When both libraries describe it
    expected = aws_manifest(root, tmp_path)
    ours, digests = snapshot(str(root), stat_files(list_files(str(root))), hash_cache=HashCache(tmp_path))
    # Then the bytes and the hash are the same
    assert ours.encode() == expected
    assert ours.hash == xxh128_hex(expected)
    assert len(digests) == len(TREE)
    # And each library reads the other's manifest back to the same thing
    assert Manifest.decode(expected) == ours
    assert aws_decode.decode_manifest(ours.encode().decode()).encode().encode() == expected


def test_a_second_snapshot_comes_from_the_hash_cache(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_tree(root)
    # Old enough mtimes that nothing is "racily" fresh
    for path in list_files(str(root)):
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    time.sleep(0.1)  # files changed within a clock tick of being hashed are not cached
    cache = HashCache(tmp_path / "cache")
    first, hashed = snapshot(str(root), stat_files(list_files(str(root))), hash_cache=cache)
    assert not any(d.from_cache for d in hashed) and len(hashed) == len(TREE)
    second, digests = snapshot(str(root), stat_files(list_files(str(root))), hash_cache=cache)
    assert all(d.from_cache for d in digests) and second == first
    # A changed file (same size and mtime, new inode) is hashed again
    changed = root / "dir" / "z.txt"
    changed.unlink()
    changed.write_bytes(b"ZED")
    os.utime(changed, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    time.sleep(0.1)
    third, digests = snapshot(str(root), stat_files(list_files(str(root))), hash_cache=cache)
    assert [Path(d.path).name for d in digests if not d.from_cache] == ["z.txt"]
    assert third.get("dir/z.txt") != first.get("dir/z.txt")


def test_a_symlink_is_neither_followed_nor_listed(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "real.txt").write_text("real")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (root / "link.txt").symlink_to(secret)
    (root / "linked-dir").symlink_to(tmp_path)
    assert list_files(str(root)) == [str(root / "real.txt")]
    assert [s.path for s in stat_files([str(root / "link.txt"), str(root / "real.txt")])] == [
        str(root / "real.txt")
    ]


def entry(path: str) -> dict[str, object]:
    return {"hash": "0" * 32, "mtime": 1, "path": path, "size": 1}


def document(*paths: dict[str, object], **overrides: object) -> str:
    doc: dict[str, object] = {
        "hashAlg": "xxh128",
        "manifestVersion": "2023-03-03",
        "paths": list(paths),
        "totalSize": len(paths),
    }
    doc.update(overrides)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "path",
    ["../escape", "a/../../escape", "/etc/passwd", "a//b", "./a", "a/.", "C:/Windows", "a\\..\\b", "nul\x00"],
)
def test_paths_that_leave_the_root_are_refused(path: str) -> None:
    with pytest.raises(PathOutsideRootError, match="manifest path"):
        Manifest.decode(document(entry(path)), name="inputs")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        (document(), "at least one file"),
        (document(entry("a"), manifestVersion="2025-01-01"), "manifestVersion"),
        (document(entry("a"), hashAlg="sha256"), "hashAlg"),
        (json.dumps({"paths": [entry("a")]}), "missing required field"),
        (document({"path": "a", "hash": "0" * 32, "size": 1}), "mtime"),
        (document({**entry("a"), "hash": "../../x"}), "alphanumeric"),
        (document({**entry("a"), "size": "1"}), "size must be"),
        (document({**entry("a"), "size": -1}), "size must be"),
        (document({**entry("a"), "mtime": 1.5}), "mtime must be"),
        (document({**entry("a"), "mtime": True}), "mtime must be"),
        (document(entry("a"), entry("a")), "listed twice"),
        (document(entry("a"), totalSize="3"), "totalSize"),
    ],
)
def test_invalid_manifests_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        Manifest.decode(text, name="inputs")


def test_encoding_orders_paths_by_utf16_code_units() -> None:
    manifest = Manifest(
        [ManifestEntry("\uff5e", "a" * 32, 1, 1), ManifestEntry("\U0001d11e", "b" * 32, 2, 2)]
    )
    paths = [e["path"] for e in json.loads(manifest.encode())["paths"]]
    assert paths == ["\U0001d11e", "\uff5e"]
    assert b"\\ud834\\udd1e" in manifest.encode()
