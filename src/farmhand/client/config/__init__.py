"""The workstation configuration: `~/.deadline/config`, shared with the AWS Deadline Cloud client."""

from ._config_file import (
    SETTINGS,
    Setting,
    clear_setting,
    get_best_profile_for_farm,
    get_config_file_path,
    get_setting,
    get_setting_default,
    read_config,
    set_setting,
    str2bool,
    write_config,
)

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
