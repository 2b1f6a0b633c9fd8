"""The workstation config file, shared with the AWS Deadline Cloud client.

Same file (`~/.deadline/config`, or `DEADLINE_CONFIG_FILE_PATH`), same INI sections and keys, same
"depend" scoping (a farm's settings live in a section named after the profile and farm), so the
`deadline` and `farmhand` tools read and write one configuration.

Unlike the AWS client, `read_config()` hands out a copy: a caller that changes settings in memory
(the CLI's `--profile`, `--farm-id`, ...) can never have them persisted by a later unrelated write.
"""

from __future__ import annotations

import configparser
import os
import threading
from pathlib import Path
from typing import NamedTuple

from ..exceptions import DeadlineOperationError

__all__ = [
    "SETTINGS",
    "Setting",
    "clear_setting",
    "get_best_profile_for_farm",
    "get_config_file_path",
    "get_setting",
    "get_setting_default",
    "read_config",
    "set_setting",
    "str2bool",
    "write_config",
]

CONFIG_FILE_PATH_ENV = "DEADLINE_CONFIG_FILE_PATH"
DEFAULT_CONFIG_FILE_PATH = "~/.deadline/config"


class Setting(NamedTuple):
    """One known setting: its default, and the setting whose value scopes its section."""

    default: str
    depends_on: str | None = None
    section_format: str | None = None
    description: str = ""


SETTINGS: dict[str, Setting] = {
    "deadline-cloud-monitor.path": Setting("", description="Path of the Deadline Cloud monitor executable."),
    "defaults.aws_profile_name": Setting(
        "(default)", section_format="profile-{}", description="AWS profile used to reach the farm."
    ),
    "settings.job_history_dir": Setting(
        "~/.deadline/job_history/{aws_profile_name}",
        depends_on="defaults.aws_profile_name",
        description="Where submitters save the bundles they submitted.",
    ),
    "defaults.farm_id": Setting("", depends_on="defaults.aws_profile_name", section_format="{}"),
    "defaults.farm_region": Setting("", depends_on="defaults.farm_id", description="Region of the farm."),
    "settings.storage_profile_id": Setting("", depends_on="defaults.farm_id"),
    "defaults.queue_id": Setting("", depends_on="defaults.farm_id", section_format="{}"),
    "defaults.job_id": Setting("", depends_on="defaults.queue_id"),
    "settings.auto_accept": Setting("false"),
    "settings.conflict_resolution": Setting("NOT_SELECTED"),
    "settings.log_level": Setting("WARNING"),
    "settings.deadline_regions": Setting(""),
    "telemetry.opt_out": Setting("false"),
    "telemetry.identifier": Setting(""),
    "defaults.job_attachments_file_system": Setting("COPIED", depends_on="defaults.farm_id"),
    "settings.s3_max_pool_connections": Setting("50"),
    "settings.small_file_threshold_multiplier": Setting("20"),
    "settings.known_asset_paths": Setting(""),
    "settings.locale": Setting(""),
    "settings.force_s3_check": Setting("false"),
    "settings.allow_bundle_hooks": Setting("false"),
    "settings.allow_environment_hooks": Setting("false"),
    "settings.submitter_update_notification": Setting("true"),
    "settings.max_retries_per_task": Setting("5"),
    "settings.max_failed_tasks_count": Setting("20"),
    "settings.https_proxy": Setting(""),
    "settings.ca_bundle": Setting(""),
    "settings.job_bundle_default_directory": Setting("", depends_on="defaults.aws_profile_name"),
}

_TRUE_WORDS = {"yes", "on", "true", "1"}
_FALSE_WORDS = {"no", "off", "false", "0"}

_cache_lock = threading.Lock()
_cached_parser: configparser.ConfigParser | None = None
_cached_key: tuple[str, int, int] | None = None


def str2bool(value: str) -> bool:
    """The boolean spellings the config file accepts (case-insensitive)."""
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a boolean value (expected true/false, yes/no, on/off or 1/0)")


def get_config_file_path() -> Path:
    """`DEADLINE_CONFIG_FILE_PATH` when set and non-empty, else `~/.deadline/config`."""
    return Path(os.path.expanduser(os.environ.get(CONFIG_FILE_PATH_ENV) or DEFAULT_CONFIG_FILE_PATH))


def _copy(parser: configparser.ConfigParser) -> configparser.ConfigParser:
    duplicate = configparser.ConfigParser()
    duplicate.read_dict({section: dict(parser.items(section, raw=True)) for section in parser.sections()})
    return duplicate


def _load_from_disk() -> configparser.ConfigParser:
    """The parsed file, re-read only when its path, mtime or size changed."""
    global _cached_parser, _cached_key
    path = get_config_file_path()
    try:
        status = path.stat()
    except FileNotFoundError:
        return configparser.ConfigParser()
    key = (str(path), status.st_mtime_ns, status.st_size)
    with _cache_lock:
        if _cached_parser is not None and _cached_key == key:
            return _cached_parser
        parser = configparser.ConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as error:
            raise DeadlineOperationError(f"Could not read the config file {path}: {error}") from error
        _cached_parser, _cached_key = parser, key
        return parser


def read_config() -> configparser.ConfigParser:
    """A private copy of the on-disk config: change it freely, nothing is written unless you write it."""
    return _copy(_load_from_disk())


def write_config(config: configparser.ConfigParser) -> None:
    """Atomically replace the config file (mode 0600), creating its directory when missing."""
    import tempfile  # only writers pay for it; `farmhand --help` reads at most

    global _cached_parser, _cached_key
    path = get_config_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            config.write(handle)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    with _cache_lock:
        _cached_parser = _copy(config)
        status = path.stat()
        _cached_key = (str(path), status.st_mtime_ns, status.st_size)


def _lookup(name: str) -> Setting:
    if "." not in name:
        raise DeadlineOperationError(f"The setting name {name!r} is not valid.")
    setting = SETTINGS.get(name)
    if setting is None:
        raise DeadlineOperationError(f"AWS Deadline Cloud configuration has no setting named {name!r}.")
    return setting


def _section_and_key(name: str, config: configparser.ConfigParser) -> tuple[str, str]:
    """The INI section a setting lives in, given the values of the settings it depends on."""
    setting = _lookup(name)
    section, key = name.split(".", 1)
    prefixes: list[str] = []
    dependency = setting.depends_on
    while dependency is not None:
        dependency_setting = SETTINGS[dependency]
        assert dependency_setting.section_format is not None
        prefixes.insert(0, dependency_setting.section_format.format(get_setting(dependency, config)))
        dependency = dependency_setting.depends_on
    return " ".join([*prefixes, section]), key


def get_setting_default(name: str, config: configparser.ConfigParser | None = None) -> str:
    """The default of a setting, with placeholders such as `{aws_profile_name}` filled in."""
    default = _lookup(name).default
    if "{aws_profile_name}" in default:
        default = default.replace("{aws_profile_name}", get_setting("defaults.aws_profile_name", config))
    return default


def get_setting(name: str, config: configparser.ConfigParser | None = None) -> str:
    """The value of a setting in `config` (default: the file on disk), or its default."""
    parser = config if config is not None else _load_from_disk()
    section, key = _section_and_key(name, parser)
    value = parser.get(section, key, fallback=None, raw=True)
    if value is None:
        return get_setting_default(name, parser)
    return value


def set_setting(name: str, value: str, config: configparser.ConfigParser | None = None) -> None:
    """Set a setting in `config` only, or (no config) in the file on disk."""
    target = config if config is not None else read_config()
    section, key = _section_and_key(name, target)
    if not target.has_section(section):
        target.add_section(section)
    target.set(section, key, value)
    if config is None:
        write_config(target)


def clear_setting(name: str, config: configparser.ConfigParser | None = None) -> None:
    """Reset a setting to its default value."""
    set_setting(name, _lookup(name).default, config)


def get_best_profile_for_farm(farm_id: str, queue_id: str | None = None) -> str:
    """The AWS profile whose defaults point at this farm (and queue), else the default profile."""
    config = read_config()
    default_profile = get_setting("defaults.aws_profile_name", config)
    if get_setting("defaults.farm_id", config) == farm_id:
        return default_profile
    farm_match: str | None = None
    for section in config.sections():
        parts = section.split(" ")
        if len(parts) != 2 or parts[1] != "defaults" or not parts[0].startswith("profile-"):
            continue
        if config.get(section, "farm_id", fallback="") != farm_id:
            continue
        profile = parts[0][len("profile-") :]
        queue_section = f"{parts[0]} {farm_id} defaults"
        if queue_id and config.get(queue_section, "queue_id", fallback="") == queue_id:
            return profile
        farm_match = farm_match or profile
    return farm_match or default_profile
