"""The debug snapshot: everything a submission would send, written to a directory instead."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["write_debug_snapshot"]


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_debug_snapshot(
    snapshot_dir: str | Path,
    create_job_args: dict[str, Any],
    queue: dict[str, Any],
    storage_profile: dict[str, Any] | None = None,
) -> Path:
    """Write the CreateJob arguments, one file per argument, and scripts that submit them with the AWS CLI."""
    directory = Path(snapshot_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "create_job_args.json").write_text(
        json.dumps(create_job_args, indent=1, default=_json_default), encoding="utf-8"
    )
    cli_arguments: list[str] = []
    for name, value in create_job_args.items():
        option = "--" + _kebab(name)
        if isinstance(value, dict | list):
            file_name = f"{_kebab(name)}_param.json"
            (directory / file_name).write_text(
                json.dumps(value, indent=1, default=_json_default), encoding="utf-8"
            )
            cli_arguments += [option, f"file://{file_name}"]
        elif isinstance(value, str) and "\n" in value:
            file_name = f"{_kebab(name)}_param.data"
            (directory / file_name).write_text(value, encoding="utf-8")
            cli_arguments += [option, f"file://{file_name}"]
        else:
            cli_arguments += [option, str(value)]
    queue_clean = {k: v for k, v in queue.items() if k != "ResponseMetadata"}
    (directory / "queue.json").write_text(
        json.dumps(queue_clean, indent=1, default=_json_default), encoding="utf-8"
    )
    if storage_profile is not None:
        profile_clean = {k: v for k, v in storage_profile.items() if k != "ResponseMetadata"}
        (directory / "storage_profile.json").write_text(
            json.dumps(profile_clean, indent=1, default=_json_default), encoding="utf-8"
        )
    settings = queue_clean.get("jobAttachmentSettings") or {}
    upload_lines: list[str] = []
    if settings.get("s3BucketName") and (directory / "Data").is_dir():
        root = f"s3://{settings['s3BucketName']}/{settings.get('rootPrefix', '')}"
        upload_lines = [
            f"aws s3 cp --recursive ./Data {root}/Data",
            f"aws s3 cp --recursive ./Manifests {root}/Manifests",
        ]
    command = "aws deadline create-job " + " ".join(shlex.quote(a) for a in cli_arguments)
    script = directory / "submit_job.sh"
    script.write_text(
        '#!/usr/bin/env bash\nset -xeuo pipefail\ncd "$(dirname "$0")"\n'
        + "".join(line + "\n" for line in upload_lines)
        + command
        + "\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    windows_command = "aws deadline create-job " + " ".join(
        f'"{a}"' if " " in a else a for a in cli_arguments
    )
    (directory / "submit_job.bat").write_text(
        "@echo on\r\ncd /d %~dp0\r\n"
        + "".join(line.replace("/", "\\", 1) + "\r\n" for line in upload_lines)
        + windows_command
        + "\r\n",
        encoding="utf-8",
    )
    return directory
