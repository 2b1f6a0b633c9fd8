"""Submission-side decisions about job attachments: known paths, the confirmation, missing inputs."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest

from farmhand.client.api._attachments import (
    collect_attachment_paths,
    confirm_transfers,
    known_paths,
)
from farmhand.client.config import set_setting
from farmhand.client.exceptions import (
    DeadlineOperationCanceled,
    MisconfiguredInputsError,
    UserInitiatedCancel,
)
from farmhand.client.job_bundle import AssetReferences
from farmhand.job_attachments import group_asset_paths, stat_groups


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> configparser.ConfigParser:
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline-config"))
    return configparser.ConfigParser()


def test_known_paths_are_absolute_and_reduced(tmp_path: Path, config: configparser.ConfigParser) -> None:
    bundle = tmp_path / "bundle"
    set_setting("settings.known_asset_paths", f"{tmp_path / 'library'}:relative/ignored", config)
    profile = {"fileSystemLocations": [{"name": "Proj", "path": str(tmp_path / "proj"), "type": "LOCAL"}]}
    merged = [
        {"name": "Scene", "type": "PATH", "objectType": "FILE", "value": str(tmp_path / "shots" / "a.ma")},
        {"name": "Other", "type": "PATH", "objectType": "DIRECTORY", "value": str(tmp_path / "unnamed")},
    ]
    known = known_paths(
        [str(tmp_path / "proj" / "sub"), "not/absolute"],
        bundle,
        profile,
        config,
        [{"name": "Scene", "value": "x"}],
        merged,
    )
    # The caller's sub-path is inside the LOCAL location; a FILE parameter counts by its directory;
    # a PATH the caller did not give (Other) is not vouched for.
    assert known == sorted(str(tmp_path / p) for p in ("bundle", "library", "proj", "shots"))


def groups_for(tmp_path: Path, *outputs: str) -> Any:
    (tmp_path / "known").mkdir(exist_ok=True)
    (tmp_path / "known" / "a.txt").write_text("a")
    return group_asset_paths([str(tmp_path / "known" / "a.txt")], [str(tmp_path / o) for o in outputs], [])


def test_known_paths_need_no_question_unknown_ones_do(
    tmp_path: Path, config: configparser.ConfigParser
) -> None:
    asked: list[tuple[str, bool]] = []

    def answer(message: str, default: bool) -> bool:
        asked.append((message, default))
        return True

    printed: list[str] = []
    groups = groups_for(tmp_path, "known/out")
    confirm_transfers(
        groups, stat_groups(groups), [str(tmp_path / "known")], None, config, answer, printed.append, False
    )
    assert asked[-1][1] is True and "Unknown paths" not in asked[-1][0]
    groups = groups_for(tmp_path, "elsewhere/out")
    confirm_transfers(
        groups, stat_groups(groups), [str(tmp_path / "known")], None, config, answer, printed.append, False
    )
    assert asked[-1][1] is False and "Unknown paths:" in asked[-1][0] and "(output)" in asked[-1][0]
    assert "Local uploads: 1 file(s)" in asked[-1][0]


def test_unknown_paths_without_a_way_to_ask_cancel(tmp_path: Path, config: configparser.ConfigParser) -> None:
    groups = groups_for(tmp_path, "elsewhere/out")
    printed: list[str] = []
    with pytest.raises(DeadlineOperationCanceled):
        confirm_transfers(groups, stat_groups(groups), [], None, config, None, printed.append, False)
    assert printed[-1] == "Job submission canceled (user input not enabled)."
    set_setting("settings.auto_accept", "true", config)
    with pytest.raises(DeadlineOperationCanceled):
        confirm_transfers(
            groups, stat_groups(groups), [], None, config, lambda m, d: True, printed.append, False
        )
    assert "auto_accept" in printed[-1]
    set_setting("settings.auto_accept", "false", config)
    with pytest.raises(UserInitiatedCancel):
        confirm_transfers(
            groups, stat_groups(groups), [], None, config, lambda m, d: False, printed.append, False
        )


def test_missing_inputs_are_refused_or_referenced(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "dir" / "f.txt").write_text("f")
    references = AssetReferences(
        input_filenames={str(tmp_path / "gone.txt")},
        input_directories={str(tmp_path / "dir"), str(tmp_path / "empty")},
    )
    with pytest.raises(MisconfiguredInputsError, match="Missing input files"):
        collect_attachment_paths(references, True, print)
    printed: list[str] = []
    paths = collect_attachment_paths(references, False, printed.append)
    assert paths.inputs == {str(tmp_path / "dir" / "f.txt")}
    assert paths.references == {str(tmp_path / "gone.txt"), str(tmp_path / "empty")}
    assert "gone.txt does not exist" in printed[0]
    with pytest.raises(MisconfiguredInputsError, match="Directories classified as files"):
        collect_attachment_paths(AssetReferences(input_filenames={str(tmp_path / "dir")}), False, print)
