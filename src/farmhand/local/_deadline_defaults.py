"""Point the workstation config (`~/.deadline/config`) at the embedded farm's profile, farm and queue."""

from __future__ import annotations

from pathlib import Path


def set_deadline_defaults(profile_name: str, farm_id: str, queue_id: str, region: str) -> Path:
    """Make the profile, farm and queue the defaults of `farmhand` and `deadline` commands.

    `settings.deadline_regions` becomes the profile's region: the AWS client lists farms in every
    region it scans, and the farm answers in all of them, so each farm would be listed once per region.
    """
    from farmhand.client import config as deadline_config

    parser = deadline_config.read_config()
    deadline_config.set_setting("defaults.aws_profile_name", profile_name, parser)
    deadline_config.set_setting("defaults.farm_id", farm_id, parser)
    deadline_config.set_setting("defaults.queue_id", queue_id, parser)
    deadline_config.set_setting("settings.deadline_regions", region, parser)
    deadline_config.write_config(parser)
    return deadline_config.get_config_file_path()
