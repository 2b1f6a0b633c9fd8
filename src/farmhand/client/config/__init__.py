"""The workstation configuration: `~/.deadline/config`, shared with the AWS Deadline Cloud client, and
the AWS profiles (`~/.aws/config`, `~/.aws/credentials`) that point at a farmhand farm."""

from ._aws_profile import (
    FarmProfile,
    aws_config_path,
    aws_credentials_path,
    profile_section,
    set_profile_values,
    write_farm_profile,
)
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
    "FarmProfile",
    "Setting",
    "aws_config_path",
    "aws_credentials_path",
    "clear_setting",
    "get_best_profile_for_farm",
    "get_config_file_path",
    "get_setting",
    "get_setting_default",
    "profile_section",
    "read_config",
    "set_profile_values",
    "set_setting",
    "str2bool",
    "write_config",
    "write_farm_profile",
]
