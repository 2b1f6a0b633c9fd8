"""The worker keeps its id across restarts, only for the farm and fleet it was registered in."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openjd.model import ParameterValueType
from openjd.sessions import ActionState, ActionStatus, PathFormat

from farmhand.worker import worker_command
from farmhand.worker._config import DataDirInUseError, WorkerConfig
from farmhand.worker._entities import parameter_values, path_mapping_rules
from farmhand.worker._log_shipper import MAX_EVENT_BYTES, split_message
from farmhand.worker._registration import forget_worker_id, load_worker_id, log_destination, save_worker_id
from farmhand.worker._session import _outcome

FARM = "farm-" + "1" * 32
FLEET = "fleet-" + "2" * 32


def test_worker_id_survives_a_restart_but_not_a_change_of_fleet(tmp_path: Path) -> None:
    config = WorkerConfig(farm_id=FARM, fleet_id=FLEET, data_dir=tmp_path)
    config.prepare()
    assert load_worker_id(config) is None
    save_worker_id(config, "worker-" + "3" * 32)
    assert (
        load_worker_id(WorkerConfig(farm_id=FARM, fleet_id=FLEET, data_dir=tmp_path)) == "worker-" + "3" * 32
    )
    other = WorkerConfig(farm_id=FARM, fleet_id="fleet-" + "4" * 32, data_dir=tmp_path)
    assert load_worker_id(other) is None
    forget_worker_id(config)
    assert load_worker_id(config) is None
    assert oct(config.credentials_dir.stat().st_mode & 0o777) == "0o700"


def test_only_awslogs_log_configurations_are_accepted() -> None:
    group, stream = log_destination(
        {"logDriver": "awslogs", "options": {"logGroupName": "/aws/deadline/f/q", "logStreamName": "s"}}
    )
    assert (group, stream) == ("/aws/deadline/f/q", "s")
    with pytest.raises(ValueError, match="awslogs"):
        log_destination({"logDriver": "json-file", "options": {}})
    with pytest.raises(ValueError, match="provision"):
        log_destination({"logDriver": "awslogs", "options": {}, "error": "no group"})


def test_api_parameters_become_openjd_values() -> None:
    values = parameter_values(
        {
            "Frames": {"string": "1-10"},
            "Count": {"int": "4"},
            "Scale": {"float": "0.5"},
            "Scene": {"path": "/mnt/scene.blend"},
            "Flag": {"bool": "true"},
        }
    )
    assert values["Count"].type == ParameterValueType.INT and values["Count"].value == "4"
    assert values["Scene"].type == ParameterValueType.PATH
    assert values["Flag"].value is True
    rules = path_mapping_rules(
        [{"sourcePathFormat": "windows", "sourcePath": "C:\\assets", "destinationPath": "/mnt/assets"}]
    )
    assert rules[0].source_path_format == PathFormat.WINDOWS
    assert str(rules[0].destination_path) == "/mnt/assets"


def test_openjd_outcomes_map_to_completed_statuses() -> None:
    assert _outcome(ActionStatus(state=ActionState.SUCCESS, exit_code=0), None)[0] == "SUCCEEDED"
    assert _outcome(ActionStatus(state=ActionState.FAILED, exit_code=2, fail_message="bad"), None) == (
        "FAILED",
        "bad",
    )
    status, message = _outcome(ActionStatus(state=ActionState.TIMEOUT, exit_code=-15), None)
    assert status == "FAILED" and message is not None and message.startswith("TIMEOUT")
    assert _outcome(ActionStatus(state=ActionState.CANCELED), "cancel")[0] == "CANCELED"
    assert _outcome(ActionStatus(state=ActionState.CANCELED), "interrupt")[0] == "INTERRUPTED"
    assert _outcome(ActionStatus(state=ActionState.CANCELED), "end")[0] == "FAILED"
    # An action that finished before the cancel reached it keeps its real outcome
    assert _outcome(ActionStatus(state=ActionState.SUCCESS, exit_code=0), "cancel")[0] == "SUCCEEDED"


def test_large_and_empty_messages_become_valid_events() -> None:
    assert split_message("") == [" "]
    big = "é" * MAX_EVENT_BYTES
    parts = split_message(big)
    assert "".join(parts) == big
    assert all(len(p.encode("utf-8")) <= MAX_EVENT_BYTES for p in parts)


def test_two_agents_cannot_share_a_data_dir(tmp_path: Path) -> None:
    # Given an agent holding a data dir
    first = WorkerConfig(farm_id=FARM, fleet_id=FLEET, data_dir=tmp_path)
    first.prepare()
    try:
        # When a second agent is started on it
        result = CliRunner().invoke(
            worker_command, ["--farm-id", FARM, "--fleet-id", FLEET, "--data-dir", str(tmp_path)]
        )
        # Then it refuses with one line naming the problem, before talking to any farm
        assert result.exit_code == 1
        assert "another worker agent is using" in result.output
        with pytest.raises(DataDirInUseError):
            WorkerConfig(farm_id=FARM, fleet_id=FLEET, data_dir=tmp_path).prepare()
    finally:
        first.release()
    # And once released the dir can be taken again
    again = WorkerConfig(farm_id=FARM, fleet_id=FLEET, data_dir=tmp_path)
    again.prepare()
    again.release()


def test_session_directories_of_a_killed_run_are_cleared_at_start(tmp_path: Path) -> None:
    config = WorkerConfig(farm_id=FARM, fleet_id=FLEET, data_dir=tmp_path)
    config.prepare()
    try:
        # Given a session directory left behind by an agent killed mid-session
        leftover = config.sessions_dir / "session-abc-xyz"
        (leftover / "files").mkdir(parents=True)
        (leftover / "files" / "scene.txt").write_text("partial")
        # When the agent starts again
        assert config.clear_stale_sessions() == 1
        # Then the directory is gone, and only session directories were touched
        assert not leftover.exists()
        assert config.state_file.parent.exists()
    finally:
        config.release()
