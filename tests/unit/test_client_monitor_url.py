"""Monitor links for farmhand profiles: the farm's own monitor, for the API and `farmhand job open`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from farmhand.client import api, config
from farmhand.client.api import _session
from farmhand.client.cli import cli

FARM = "http://farm.example:8080"


@pytest.fixture
def farm_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    aws_config = tmp_path / "aws_config"
    services = "".join(
        f"{name} =\n  endpoint_url = {FARM}\n" for name in ("deadline", "cloudwatch_logs", "sts", "s3")
    )
    aws_config.write_text(
        "[profile farm]\nregion = us-west-2\nservices = farm\ndisable_host_prefix_injection = true\n\n"
        f"[services farm]\n{services}\n[profile aws]\nregion = us-west-2\n"
    )
    credentials = tmp_path / "aws_credentials"
    credentials.write_text(
        "[farm]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n\n"
        "[aws]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n"
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DEADLINE", "BROWSER", "DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline_config"))
    monkeypatch.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", "true")
    _session.clear_session_caches()
    config.set_setting("defaults.aws_profile_name", "farm")
    yield tmp_path
    _session.clear_session_caches()


def test_a_farmhand_profile_links_to_the_farms_own_monitor(farm_profile: Path) -> None:
    assert api.build_monitor_url("ignored") == f"{FARM}/"
    assert api.build_monitor_url("ignored", farm_id="farm-1") == f"{FARM}/farms/farm-1"
    assert (
        api.build_monitor_url("ignored", "eu-west-1", "farm-1", "queue-1", "job-1", "step-1", "task-1-0")
        == f"{FARM}/farms/farm-1/queues/queue-1/jobs/job-1/steps/step-1?taskId=task-1-0"
    )
    # An explicit host still builds the Deadline Cloud form
    assert api.build_monitor_url("studio", farm_id="farm-1", host="m.example").startswith(
        "https://m.example/"
    )
    # An AWS profile keeps the Deadline Cloud monitor's address
    config.set_setting("defaults.aws_profile_name", "aws")
    _session.clear_session_caches()
    assert api.build_monitor_url("studio", farm_id="farm-1") == (
        "https://studio.us-west-2.deadlinecloud.amazonaws.com/us-west-2/farms/farm-1"
    )


def test_job_open_prints_the_jobs_page_of_the_farms_monitor(farm_profile: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["job", "open", "job-9", "--farm-id", "farm-1", "--queue-id", "queue-1", "--print-only"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{FARM}/farms/farm-1/queues/queue-1/jobs/job-9"
    result = runner.invoke(
        cli, ["job", "open", "job-9", "--farm-id", "farm-1", "--queue-id", "queue-1", "--task-id", "task-1"]
    )
    assert result.exit_code == 2 and "--task-id needs --step-id" in result.output
