"""Where a session puts each attachment root, and the path-mapping rules the job's tasks get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from farmhand.job_attachments import StorageSettings, session_root_directory_name
from farmhand.worker._attachments import AttachmentSyncError, SessionAttachments


def attachments_for(
    manifests: list[dict[str, Any]], rules: list[dict[str, str]], directory: Path
) -> SessionAttachments:
    return SessionAttachments(
        attachments={"manifests": manifests, "fileSystem": "COPIED"},
        settings=StorageSettings("bucket", "Root"),
        service_rules=rules,
        directory=directory,
        farm_id="farm-1",
        queue_id="queue-1",
        job_id="job-1",
        session_factory=lambda: None,
        cache=None,
        write_log=lambda line: None,
    )


def test_roots_without_a_location_go_to_the_session_and_are_mapped(tmp_path: Path) -> None:
    session = attachments_for(
        [
            {
                "rootPath": "C:\\Projects\\shot",
                "rootPathFormat": "windows",
                "outputRelativeDirectories": ["out\\frames"],
            }
        ],
        [],
        tmp_path,
    )
    [root] = session.roots
    assert root.local == str(tmp_path / session_root_directory_name("C:\\Projects\\shot"))
    assert root.output_directories() == ["out/frames"]
    [rule] = session.rules
    assert rule.apply(path="C:\\Projects\\shot\\scene.ma")[1] == f"{root.local}/scene.ma"


def test_a_root_under_a_mapped_location_goes_where_the_service_rule_says(tmp_path: Path) -> None:
    rules = [
        {"sourcePathFormat": "posix", "sourcePath": "/mnt/projects/shot", "destinationPath": "/data/shot"}
    ]
    session = attachments_for(
        [{"rootPath": "/mnt/projects/shot", "rootPathFormat": "posix", "fileSystemLocationName": "Projects"}],
        rules,
        tmp_path,
    )
    assert session.roots[0].local == "/data/shot" and session.rules == []


def test_a_location_root_without_its_rule_is_refused(tmp_path: Path) -> None:
    rules = [{"sourcePathFormat": "posix", "sourcePath": "/elsewhere", "destinationPath": "/data"}]
    with pytest.raises(AttachmentSyncError, match="No path mapping rule found for the source path /mnt/p"):
        attachments_for(
            [{"rootPath": "/mnt/p", "rootPathFormat": "posix", "fileSystemLocationName": "Projects"}],
            rules,
            tmp_path,
        )
