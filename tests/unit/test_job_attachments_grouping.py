"""Asset-root grouping, storage-profile path mapping and output-manifest selection, against the AWS
client's behaviour for the same paths."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from deadline.job_attachments.models import (
    FileSystemLocation,
    FileSystemLocationType,
    StorageProfile,
    StorageProfileOperatingSystemFamily,
)
from deadline.job_attachments.upload import S3AssetManager

from farmhand.job_attachments import (
    StoredObject,
    group_asset_paths,
    map_path,
    rules_between,
    select_output_manifest_keys,
)


def make(root: Path, *names: str) -> list[str]:
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        paths.append(str(path))
    return paths


def aws_groups(
    inputs: list[str], outputs: list[str], references: list[str], profile: StorageProfile | None
) -> list[tuple[str, str | None, list[str], list[str]]]:
    groups = S3AssetManager().prepare_paths_for_upload(
        input_paths=inputs, output_paths=outputs, referenced_paths=references, storage_profile=profile
    )
    return [
        (g.root_path, g.file_system_location_name, sorted(map(str, g.inputs)), sorted(map(str, g.outputs)))
        for g in groups.asset_groups
    ]


def ours(
    inputs: list[str], outputs: list[str], references: list[str], profile: dict | None
) -> list[tuple[str, str | None, list[str], list[str]]]:
    return [
        (g.root_path, g.file_system_location_name, sorted(g.inputs), sorted(g.outputs))
        for g in group_asset_paths(inputs, outputs, references, profile)
    ]


def test_groups_match_the_aws_client(tmp_path: Path) -> None:
    inputs = make(tmp_path, "proj/a/b/f.txt", "proj/c/g.txt")
    cases = [
        (inputs[:1], [], []),
        (inputs[:1], [str(tmp_path / "proj/a/b")], []),
        (inputs, [str(tmp_path / "proj/out")], [str(tmp_path / "elsewhere/ref")]),
        ([], [str(tmp_path / "proj/out")], []),
        # a sibling whose name extends another's ("b-x" sorts between "b" and "b/...")
        (make(tmp_path, "proj/b/c.txt", "proj/b-x.txt"), [str(tmp_path / "proj/b")], []),
    ]
    for case in cases:
        assert ours(*case, None) == aws_groups(*case, None), case


def test_storage_profile_locations_group_and_drop_paths_like_the_aws_client(tmp_path: Path) -> None:
    inputs = make(tmp_path, "local/shot/a.txt", "local/shot/b/c.txt", "shared/lib.txt", "other/x.txt")
    outputs = [str(tmp_path / "local/shot/out")]
    locations = [
        ("ProjLocal", tmp_path / "local", FileSystemLocationType.LOCAL),
        ("Shared", tmp_path / "shared", FileSystemLocationType.SHARED),
    ]
    aws_profile = StorageProfile(
        storageProfileId="sp-1",
        displayName="workstation",
        osFamily=StorageProfileOperatingSystemFamily.LINUX,
        fileSystemLocations=[FileSystemLocation(name=n, path=str(p), type=t) for n, p, t in locations],
    )
    profile = {
        "storageProfileId": "sp-1",
        "displayName": "workstation",
        "osFamily": "LINUX",
        "fileSystemLocations": [{"name": n, "path": str(p), "type": t.value} for n, p, t in locations],
    }
    expected = aws_groups(inputs, outputs, [], aws_profile)
    assert ours(inputs, outputs, [], profile) == expected
    # The LOCAL group's root is the common path of its files, not the location (spec §4)
    assert (str(tmp_path / "local/shot"), "ProjLocal") in [(g[0], g[1]) for g in expected]
    assert not any("shared" in path for group in expected for path in group[2])


def profile(profile_id: str, os_family: str, **paths: str) -> dict:
    return {
        "storageProfileId": profile_id,
        "osFamily": os_family,
        "fileSystemLocations": [{"name": n, "path": p, "type": "SHARED"} for n, p in paths.items()],
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("C:\\Projects\\shot\\a.exr", "/mnt/projects/shot/a.exr"),
        ("c:\\projects\\shot\\a.exr", "/mnt/projects/shot/a.exr"),
        ("C:\\Projects\\Assets\\tex.png", "/assets/tex.png"),
        ("D:\\elsewhere\\x", None),
    ],
)
def test_windows_paths_map_by_the_longest_rule_case_insensitively(path: str, expected: str | None) -> None:
    rules = rules_between(
        profile("sp-win", "WINDOWS", Projects="C:\\Projects", Assets="C:\\Projects\\Assets"),
        profile("sp-linux", "LINUX", Projects="/mnt/projects", Assets="/assets"),
    )
    assert map_path(rules, path, "windows") == expected


def test_no_rules_between_a_profile_and_itself() -> None:
    same = profile("sp-1", "LINUX", Projects="/p")
    assert rules_between(same, same) == []


def test_output_manifests_are_the_latest_per_task_and_every_chunked_one() -> None:
    prefix = "Root/Manifests/farm-1/queue-1/job-1/"
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    keys = [
        "step-1/task-1-0/2026-01-01T00:00:00.000000Z_sessionaction-a-1/h1_output",
        "step-1/task-1-0/2026-01-02T00:00:00.000000Z_sessionaction-b-1/h1_output",
        "step-1/task-1-1/2026-01-01T00:00:00.000000Z_sessionaction-c-1/h1_output",
        "step-2/2026-01-01T00:00:00.000000Z_sessionaction-d-1/h1_output",
        "step-2/2026-01-03T00:00:00.000000Z_sessionaction-e-1/h1_output",
        "step-1/task-1-0/2026-01-03T00:00:00.000000Z_sessionaction-f-1/notes.txt",
    ]
    chosen = select_output_manifest_keys([StoredObject(prefix + k, 1, at) for k in keys], prefix)
    assert sorted(o.key[len(prefix) :] for o in chosen) == sorted([keys[1], keys[2], keys[3], keys[4]])
