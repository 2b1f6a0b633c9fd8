"""Write the AWS profile that points boto3, the `deadline` CLI and our workers at the embedded farm.

Only the profile's own sections are replaced, line for line: every other profile, comment and
blank line in the user's AWS config and credentials files stays exactly as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The botocore service ids (snake case) a farm answers for, as used in a `[services ...]` section.
FARM_SERVICES = ("deadline", "cloudwatch_logs", "s3", "sts")
DEFAULT_PROFILE_NAME = "farmhand"

_SECTION_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$")


@dataclass(frozen=True)
class FarmProfile:
    """What the profile says: where the farm is and which key signs the requests."""

    name: str
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-west-2"
    # Where `s3` goes when job attachments live in an external store rather than on the farm.
    s3_endpoint_url: str | None = None


def aws_config_path() -> Path:
    return Path(os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"))


def aws_credentials_path() -> Path:
    return Path(os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"))


def write_farm_profile(profile: FarmProfile) -> tuple[Path, Path]:
    """Create or replace the profile in both files; returns (config path, credentials path)."""
    config_path = aws_config_path()
    credentials_path = aws_credentials_path()
    config_header = "default" if profile.name == "default" else f"profile {profile.name}"
    services_name = profile.name
    profile_body = [
        f"region = {profile.region}",
        f"services = {services_name}",
        "disable_host_prefix_injection = true",
    ]
    services_body: list[str] = []
    for service in FARM_SERVICES:
        endpoint = (
            profile.s3_endpoint_url if service == "s3" and profile.s3_endpoint_url else profile.endpoint_url
        )
        services_body += [f"{service} =", f"  endpoint_url = {endpoint}"]
    _replace_sections(
        config_path,
        {config_header: profile_body, f"services {services_name}": services_body},
        private=False,
    )
    _replace_sections(
        credentials_path,
        {
            profile.name: [
                f"aws_access_key_id = {profile.access_key_id}",
                f"aws_secret_access_key = {profile.secret_access_key}",
            ]
        },
        private=True,
    )
    return config_path, credentials_path


def _replace_sections(path: Path, sections: dict[str, list[str]], *, private: bool) -> None:
    """Replace (or append) whole INI sections by name, leaving every other line untouched."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept: list[str] = []
    skipping = False
    for line in lines:
        header = _SECTION_HEADER.match(line)
        if header:
            skipping = _normalise(header.group(1)) in {_normalise(name) for name in sections}
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    for name, body in sections.items():
        if kept:
            kept.append("")
        kept += [f"[{name}]", *body]
    _write_atomically(path, "\n".join(kept) + "\n", private=private)


def _normalise(section_name: str) -> str:
    return " ".join(section_name.split())


def _write_atomically(path: Path, text: str, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if private else (path.stat().st_mode & 0o777 if path.exists() else 0o644)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
