"""The embedded farm: `farmhand up` runs a server and local workers on this machine."""

from ..client.config import FarmProfile, write_farm_profile
from ._bootstrap import FarmResources, bootstrap_farm
from ._commands import down_command, status_command, up_command
from ._state import FarmState, default_data_dir, farm_is_running, read_state, running_farm
from ._supervisor import FarmOptions, FarmStartError, Supervisor, start_supervisor_process

__all__ = [
    "FarmOptions",
    "FarmProfile",
    "FarmResources",
    "FarmStartError",
    "FarmState",
    "Supervisor",
    "bootstrap_farm",
    "default_data_dir",
    "down_command",
    "farm_is_running",
    "read_state",
    "running_farm",
    "start_supervisor_process",
    "status_command",
    "up_command",
    "write_farm_profile",
]
