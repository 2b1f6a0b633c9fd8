"""Storage profiles as a queue sees them, and the path-mapping rules of a session (spec §4)."""

from __future__ import annotations

from typing import Any

from farmhand.server._path_mapping import path_mapping_rules, profile_for_queue


def profile(os_family: str, *locations: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "storageProfileId": "sp-" + "1" * 32,
        "displayName": os_family.lower(),
        "osFamily": os_family,
        "fileSystemLocations": [{"name": n, "path": p, "type": t} for n, p, t in locations],
    }


WORKSTATION = profile(
    "LINUX",
    ("Projects", "/projects", "SHARED"),
    ("Scratch", "/scratch", "SHARED"),
    ("ProjLocal", "/home/me/proj", "LOCAL"),
)
FLEET = profile(
    "WINDOWS",
    ("Projects", "P:\\projects", "SHARED"),
    ("Scratch", "S:\\", "SHARED"),
    ("ProjLocal", "D:\\local\\proj", "LOCAL"),
)


def test_a_queue_sees_only_the_shared_locations_it_requires() -> None:
    view = profile_for_queue(WORKSTATION, ["Projects"])
    assert [loc["name"] for loc in view["fileSystemLocations"]] == ["Projects", "ProjLocal"]
    # the stored profile itself is untouched
    assert len(WORKSTATION["fileSystemLocations"]) == 3


def test_rules_cover_the_required_locations_named_in_both_profiles() -> None:
    rules = path_mapping_rules(WORKSTATION, FLEET, ["Projects", "Missing"])
    assert rules == [
        {"sourcePathFormat": "posix", "sourcePath": "/projects", "destinationPath": "P:\\projects"}
    ]


def test_no_rules_without_both_profiles() -> None:
    assert path_mapping_rules(None, FLEET, ["Projects"]) == []
    assert path_mapping_rules(WORKSTATION, None, ["Projects"]) == []


def test_each_local_manifest_root_under_a_mapped_location_gets_its_own_rule() -> None:
    # Given manifests rooted below the LOCAL location (the common path of their files), one untagged
    manifests = [
        {
            "rootPath": "/home/me/proj/shots/a",
            "rootPathFormat": "posix",
            "fileSystemLocationName": "ProjLocal",
        },
        {"rootPath": "/home/me/proj", "rootPathFormat": "posix", "fileSystemLocationName": "ProjLocal"},
        {"rootPath": "/tmp/in", "rootPathFormat": "posix"},
        {"rootPath": "/elsewhere", "rootPathFormat": "posix", "fileSystemLocationName": "ProjLocal"},
    ]
    rules = path_mapping_rules(WORKSTATION, FLEET, ["ProjLocal"], manifests)
    # Then the location maps, and the deeper root maps exactly, its prefix substituted in the fleet's form
    assert rules == [
        {"sourcePathFormat": "posix", "sourcePath": "/home/me/proj", "destinationPath": "D:\\local\\proj"},
        {
            "sourcePathFormat": "posix",
            "sourcePath": "/home/me/proj/shots/a",
            "destinationPath": "D:\\local\\proj\\shots\\a",
        },
    ]


def test_windows_roots_map_to_posix_workers() -> None:
    windows = profile("WINDOWS", ("ProjLocal", "C:\\Proj", "LOCAL"))
    linux = profile("LINUX", ("ProjLocal", "/mnt/proj", "LOCAL"))
    manifests = [
        {"rootPath": "C:\\Proj\\A b", "rootPathFormat": "windows", "fileSystemLocationName": "ProjLocal"}
    ]
    rules = path_mapping_rules(windows, linux, ["ProjLocal"], manifests)
    assert rules[-1] == {
        "sourcePathFormat": "windows",
        "sourcePath": "C:\\Proj\\A b",
        "destinationPath": "/mnt/proj/A b",
    }


def test_shared_locations_never_get_manifest_rules() -> None:
    manifests = [{"rootPath": "/projects/x", "rootPathFormat": "posix", "fileSystemLocationName": "Projects"}]
    assert len(path_mapping_rules(WORKSTATION, FLEET, ["Projects"], manifests)) == 1
