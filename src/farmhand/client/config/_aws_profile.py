"""Write the AWS profiles that point boto3, the `deadline` CLI and workers at a farmhand farm.

A farm profile either carries keys (the embedded farm's, the admin's) or signs in: its
`credential_process` turns a stored refresh token into temporary credentials. Only the profile's
own sections are replaced, line for line: every other profile, comment and blank line in the
user's AWS config and credentials files stays exactly as it was.
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
    """What the profile says: where the farm is, which key signs the requests (or how to sign in),
    and the CA bundle that verifies the farm's TLS certificate."""

    name: str
    endpoint_url: str
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-west-2"
    # Where `s3` goes when job attachments live in an external store rather than on the farm.
    s3_endpoint_url: str | None = None
    ca_bundle: str | None = None
    # More `key = value` lines of the profile (a sign-in profile's credential_process, monitor_id, ...).
    settings: tuple[tuple[str, str], ...] = ()


def aws_config_path() -> Path:
    return Path(os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"))


def aws_credentials_path() -> Path:
    return Path(os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"))


def profile_section(name: str) -> str:
    """The config-file section of a profile (`default` has no `profile ` prefix)."""
    return "default" if name == "default" else f"profile {name}"


def write_farm_profile(profile: FarmProfile) -> tuple[Path, Path]:
    """Create or replace the profile in both files; returns (config path, credentials path).

    A profile without keys loses any keys the credentials file held for it: they would take
    precedence over its `credential_process`.
    """
    config_path = aws_config_path()
    credentials_path = aws_credentials_path()
    config_header = profile_section(profile.name)
    services_name = profile.name
    profile_body = [
        f"region = {profile.region}",
        f"services = {services_name}",
        "disable_host_prefix_injection = true",
    ]
    if profile.ca_bundle:
        profile_body.append(f"ca_bundle = {profile.ca_bundle}")
    profile_body += [f"{key} = {value}" for key, value in profile.settings]
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
    keys: list[str] | None = None
    if profile.access_key_id and profile.secret_access_key:
        keys = [
            f"aws_access_key_id = {profile.access_key_id}",
            f"aws_secret_access_key = {profile.secret_access_key}",
        ]
    if keys is not None or credentials_path.exists():
        _replace_sections(credentials_path, {profile.name: keys}, private=True)
    return config_path, credentials_path


def set_profile_values(name: str, values: dict[str, str]) -> None:
    """Set `key = value` lines of an existing profile in the config file, keeping its other lines."""
    path = aws_config_path()
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    wanted = _normalise(profile_section(name))
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if (m := _SECTION_HEADER.match(line)) and _normalise(m.group(1)) == wanted
        ),
        None,
    )
    if start is None:
        raise KeyError(f"the AWS config file has no profile {name!r}")
    end = next((i for i in range(start + 1, len(lines)) if _SECTION_HEADER.match(lines[i])), len(lines))
    body = [
        line
        for line in lines[start + 1 : end]
        if line.split("=", 1)[0].strip() not in values or line[:1].isspace()
    ]
    while body and not body[-1].strip():
        body.pop()
    body += [f"{key} = {value}" for key, value in values.items()]
    tail = lines[end:]
    text_lines = [*lines[: start + 1], *body, *([""] if tail else []), *tail]
    _write_atomically(path, "\n".join(text_lines) + "\n", private=False)


def _replace_sections(path: Path, sections: dict[str, list[str] | None], *, private: bool) -> None:
    """Replace (or append) whole INI sections by name, leaving every other line untouched; a
    section whose body is None is removed."""
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
        if body is None:
            continue
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
