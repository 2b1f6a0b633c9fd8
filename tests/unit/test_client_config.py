"""The workstation config file: location, sections, scoping, defaults and errors."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest

from farmhand.client import config
from farmhand.client.exceptions import DeadlineOperationError


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "deadline" / "config"
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(path))
    return path


def test_path_comes_from_the_environment_or_home(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.get_config_file_path() == config_path
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", "")
    monkeypatch.setenv("HOME", "/home/someone")
    assert config.get_config_file_path() == Path("/home/someone/.deadline/config")


def test_defaults_when_the_file_is_absent(config_path: Path) -> None:
    assert not config_path.exists()
    assert config.get_setting("defaults.aws_profile_name") == "(default)"
    assert config.get_setting("settings.max_retries_per_task") == "5"
    assert config.get_setting("defaults.job_attachments_file_system") == "COPIED"
    assert config.get_setting("settings.job_history_dir") == "~/.deadline/job_history/(default)"


def test_settings_are_scoped_by_profile_farm_and_queue(config_path: Path) -> None:
    # When settings that depend on the profile, farm and queue are set
    config.set_setting("defaults.aws_profile_name", "myprof")
    config.set_setting("defaults.farm_id", "farm-123")
    config.set_setting("defaults.queue_id", "queue-456")
    config.set_setting("defaults.farm_region", "us-west-2")
    config.set_setting("defaults.job_id", "job-9")
    config.set_setting("settings.storage_profile_id", "sp-1")
    config.set_setting("telemetry.opt_out", "true")
    # Then they land in the same sections as the AWS client writes
    written = configparser.ConfigParser()
    written.read(config_path)
    assert written.get("defaults", "aws_profile_name") == "myprof"
    assert written.get("profile-myprof defaults", "farm_id") == "farm-123"
    assert written.get("profile-myprof farm-123 defaults", "queue_id") == "queue-456"
    assert written.get("profile-myprof farm-123 defaults", "farm_region") == "us-west-2"
    assert written.get("profile-myprof farm-123 settings", "storage_profile_id") == "sp-1"
    assert written.get("profile-myprof farm-123 queue-456 defaults", "job_id") == "job-9"
    assert written.get("telemetry", "opt_out") == "true"
    # And another profile sees its own (empty) farm
    config.set_setting("defaults.aws_profile_name", "other")
    assert config.get_setting("defaults.farm_id") == ""
    config.set_setting("defaults.aws_profile_name", "myprof")
    assert config.get_setting("defaults.job_id") == "job-9"


def test_the_aws_client_reads_what_farmhand_writes(config_path: Path) -> None:
    from deadline.client.config import config_file as aws_config_file  # test-time reference only

    config.set_setting("defaults.aws_profile_name", "shared")
    config.set_setting("defaults.farm_id", "farm-1")
    config.set_setting("defaults.queue_id", "queue-1")
    assert aws_config_file.get_setting("defaults.farm_id") == "farm-1"
    assert aws_config_file.get_setting("defaults.queue_id") == "queue-1"
    aws_config_file.set_setting("defaults.farm_region", "eu-west-1")
    assert config.get_setting("defaults.farm_region") == "eu-west-1"


def test_the_file_is_private_and_replaced_atomically(config_path: Path) -> None:
    config.set_setting("settings.log_level", "INFO")
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert [p.name for p in config_path.parent.iterdir()] == ["config"]


def test_clear_setting_restores_the_default(config_path: Path) -> None:
    config.set_setting("settings.auto_accept", "true")
    config.clear_setting("settings.auto_accept")
    assert config.get_setting("settings.auto_accept") == "false"


def test_unknown_and_malformed_names_are_errors(config_path: Path) -> None:
    with pytest.raises(DeadlineOperationError, match=r"has no setting named 'settings\.nope'"):
        config.get_setting("settings.nope")
    with pytest.raises(DeadlineOperationError, match="The setting name 'nodot' is not valid"):
        config.set_setting("nodot", "x")


def test_a_passed_config_is_changed_only_in_memory(config_path: Path) -> None:
    config.set_setting("defaults.aws_profile_name", "disk")
    in_memory = config.read_config()
    config.set_setting("defaults.aws_profile_name", "memory", in_memory)
    assert config.get_setting("defaults.aws_profile_name", in_memory) == "memory"
    assert config.get_setting("defaults.aws_profile_name") == "disk"


def test_read_config_is_a_copy_so_later_writes_cannot_persist_cli_overrides(config_path: Path) -> None:
    # Section 8, defect 1: the CLI sets --profile on the config it read; a later unrelated write
    # (the telemetry identifier) persisted that profile. Here read_config() hands out a copy.
    config.set_setting("defaults.aws_profile_name", "disk")
    cli_config = config.read_config()
    config.set_setting("defaults.aws_profile_name", "from-cli-option", cli_config)
    config.set_setting("telemetry.identifier", "8a7b6c5d-0000-4000-8000-000000000000")
    written = configparser.ConfigParser()
    written.read(config_path)
    assert written.get("defaults", "aws_profile_name") == "disk"
    assert config.read_config() is not config.read_config()


def test_external_edits_are_picked_up(config_path: Path) -> None:
    config.set_setting("settings.log_level", "INFO")
    config_path.write_text("[settings]\nlog_level = DEBUG\n")
    assert config.get_setting("settings.log_level") == "DEBUG"


def test_str2bool_spellings() -> None:
    assert [config.str2bool(v) for v in ("Yes", "on", "TRUE", "1")] == [True] * 4
    assert [config.str2bool(v) for v in ("no", "OFF", "false", "0")] == [False] * 4
    with pytest.raises(ValueError):
        config.str2bool("maybe")


def test_best_profile_for_farm(config_path: Path) -> None:
    config.set_setting("defaults.aws_profile_name", "a")
    config.set_setting("defaults.farm_id", "farm-a")
    config.set_setting("defaults.aws_profile_name", "b")
    config.set_setting("defaults.farm_id", "farm-b")
    config.set_setting("defaults.queue_id", "queue-b")
    config.set_setting("defaults.aws_profile_name", "c")
    assert config.get_best_profile_for_farm("farm-a") == "a"
    assert config.get_best_profile_for_farm("farm-b", "queue-b") == "b"
    assert config.get_best_profile_for_farm("farm-zzz") == "c"


def test_every_setting_and_default_matches_the_aws_client(config_path: Path) -> None:
    from deadline.client.config import config_file as aws_config_file  # test-time reference only

    # Every setting the AWS client knows exists here, with the same default on an empty file
    for name in aws_config_file.SETTINGS:
        assert config.get_setting(name) == aws_config_file.get_setting(name), name
    # And values written by one, under any profile/farm/queue, are read back by the other
    config.set_setting("defaults.aws_profile_name", "p")
    config.set_setting("defaults.farm_id", "farm-9")
    config.set_setting("defaults.queue_id", "queue-9")
    for name in ("defaults.job_id", "settings.storage_profile_id", "defaults.job_attachments_file_system"):
        config.set_setting(name, f"value-of-{name}")
        assert aws_config_file.get_setting(name) == f"value-of-{name}"
