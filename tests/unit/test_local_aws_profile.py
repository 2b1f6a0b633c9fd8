"""The AWS profile `farmhand up` writes: only its own sections change, and botocore reads it as meant."""

from __future__ import annotations

import stat
from pathlib import Path

import botocore.session
import pytest

from farmhand.local import FarmProfile, write_farm_profile

THEIRS = """# my settings
[default]
region = eu-west-1

[profile work]
region = us-east-1
services = corp

[services corp]
deadline =
  endpoint_url = https://corp.example
"""


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    config = tmp_path / "aws" / "config"
    credentials = tmp_path / "aws" / "credentials"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    return config, credentials


def profile(url: str = "http://127.0.0.1:8080", name: str = "farmhand") -> FarmProfile:
    return FarmProfile(name=name, endpoint_url=url, access_key_id="AKIAEXAMPLE", secret_access_key="secret")


def test_the_profile_is_added_after_the_users_own_settings(aws_files: tuple[Path, Path]) -> None:
    # Given a config file with the user's profiles and comments
    config, credentials = aws_files
    config.parent.mkdir()
    config.write_text(THEIRS)
    credentials.write_text("[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = w\n")

    # When the farm's profile is written twice (a second `farmhand up` on another port)
    write_farm_profile(profile("http://127.0.0.1:8080"))
    write_farm_profile(profile("http://127.0.0.1:9090"))

    # Then the user's text is untouched and the profile appears once, with the latest endpoint
    text = config.read_text()
    assert text.startswith(THEIRS)
    assert text.count("[profile farmhand]") == 1
    assert "8080" not in text
    assert credentials.read_text().startswith("[work]\naws_access_key_id = AKIAWORK\n")
    assert credentials.read_text().count("[farmhand]") == 1
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_botocore_reads_endpoints_credentials_and_host_prefix_setting(aws_files: tuple[Path, Path]) -> None:
    # Given the profile written into empty files
    write_farm_profile(profile("http://127.0.0.1:8181"))

    # When botocore loads it
    session = botocore.session.Session(profile="farmhand")
    client = session.create_client("deadline")
    logs = session.create_client("logs")

    # Then every client goes to the farm, signed with the farm's key, without host prefixes
    assert client.meta.endpoint_url == "http://127.0.0.1:8181"
    assert logs.meta.endpoint_url == "http://127.0.0.1:8181"
    assert session.get_credentials().access_key == "AKIAEXAMPLE"
    assert client.meta.config.inject_host_prefix is False
    assert client.meta.region_name == "us-west-2"


def test_a_profile_named_default_uses_the_default_section(aws_files: tuple[Path, Path]) -> None:
    config, credentials = aws_files
    write_farm_profile(profile(name="default"))
    assert "[default]\nregion = us-west-2\nservices = default\n" in config.read_text()
    assert credentials.read_text().startswith("[default]\n")
