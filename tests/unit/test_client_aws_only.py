"""Behaviour that exists only against AWS, checked with botocore's Stubber on the library's own clients.

Deadline Cloud monitor profiles (membership `principalId` filter, KMS farms of other regions) and the
multi-region `list_farms` fan-out cannot be reproduced by a single self-hosted farm.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from farmhand.client import api, config
from farmhand.client.api import _session
from farmhand.client.exceptions import DeadlineOperationError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def farm(farm_id: str, **extra: Any) -> dict[str, Any]:
    return {"farmId": farm_id, "displayName": farm_id, "createdAt": NOW, "createdBy": "arn:x", **extra}


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    aws_config = tmp_path / "aws_config"
    aws_config.write_text(
        "[profile monitor]\nregion = us-west-2\nmonitor_id = monitor-1\nuser_id = user-1\n"
        "identity_store_id = d-123\n\n[profile plain]\nregion = us-west-2\n"
    )
    credentials = tmp_path / "aws_credentials"
    credentials.write_text(
        "[monitor]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n\n"
        "[plain]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n"
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DEADLINE", "DEADLINE_CLOUD_REGIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline_config"))
    monkeypatch.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", "true")
    _session.clear_session_caches()
    yield tmp_path
    _session.clear_session_caches()


def use_profile(name: str) -> None:
    config.set_setting("defaults.aws_profile_name", name)


def test_monitor_profile_is_detected(aws_files: Path) -> None:
    use_profile("monitor")
    assert api.get_credentials_source() == api.AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN
    assert api.get_user_and_identity_store_id() == ("user-1", "d-123")
    use_profile("plain")
    assert api.get_user_and_identity_store_id() == (None, None)


def test_monitor_profiles_list_only_their_memberships(aws_files: Path) -> None:
    # Given a Deadline Cloud monitor profile
    use_profile("monitor")
    client = api.get_boto3_client("deadline")
    with Stubber(client) as stub:
        # Then queue and fleet lists carry principalId=<user id>
        stub.add_response("list_queues", {"queues": []}, {"farmId": "farm-1", "principalId": "user-1"})
        stub.add_response("list_fleets", {"fleets": []}, {"farmId": "farm-1", "principalId": "user-1"})
        stub.add_response(
            "list_jobs", {"jobs": []}, {"farmId": "farm-1", "queueId": "queue-1", "principalId": "user-1"}
        )
        # And a caller's own principalId wins
        stub.add_response("list_queues", {"queues": []}, {"farmId": "farm-1", "principalId": "other"})
        api.list_queues(farmId="farm-1")
        api.list_fleets(farmId="farm-1")
        api.list_jobs(farmId="farm-1", queueId="queue-1")
        api.list_queues(farmId="farm-1", principalId="other")
        stub.assert_no_pending_responses()


def test_plain_profiles_send_no_principal_filter(aws_files: Path) -> None:
    use_profile("plain")
    client = api.get_boto3_client("deadline")
    with Stubber(client) as stub:
        stub.add_response("list_queues", {"queues": []}, {"farmId": "farm-1"})
        api.list_queues(farmId="farm-1")
        stub.assert_no_pending_responses()


def stub_region(region: str) -> Stubber:
    session = api.get_boto3_session()
    return Stubber(_session.get_session_client(session, "deadline", region))


def test_list_farms_fans_out_over_the_configured_regions(
    aws_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two regions to scan, one with two pages of farms
    use_profile("plain")
    monkeypatch.setenv("DEADLINE_CLOUD_REGIONS", "us-east-1, eu-west-1,us-east-1")
    east, west = stub_region("us-east-1"), stub_region("eu-west-1")
    east.add_response("list_farms", {"farms": [farm("farm-a")], "nextToken": "t"}, {})
    east.add_response("list_farms", {"farms": [farm("farm-b")]}, {"nextToken": "t"})
    west.add_response("list_farms", {"farms": [farm("farm-c")]}, {})
    with east, west:
        # When farms are listed without a region
        farms = api.list_farms()["farms"]
    # Then each farm appears once, tagged with its region
    assert sorted((f["farmId"], f["region"]) for f in farms) == [
        ("farm-a", "us-east-1"),
        ("farm-b", "us-east-1"),
        ("farm-c", "eu-west-1"),
    ]


def test_list_farms_skips_a_failing_region_and_fails_when_all_fail(
    aws_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_profile("plain")
    monkeypatch.setenv("DEADLINE_CLOUD_REGIONS", "us-east-1,eu-west-1")
    east, west = stub_region("us-east-1"), stub_region("eu-west-1")
    east.add_client_error("list_farms", "AccessDeniedException", "no")
    west.add_response("list_farms", {"farms": [farm("farm-c")]}, {})
    with east, west:
        assert [f["farmId"] for f in api.list_farms()["farms"]] == ["farm-c"]
    east, west = stub_region("us-east-1"), stub_region("eu-west-1")
    east.add_client_error("list_farms", "AccessDeniedException", "no")
    west.add_client_error("list_farms", "ThrottlingException", "slow down")
    with (
        east,
        west,
        pytest.raises(DeadlineOperationError, match=r"Failed to list farms in all 2 region\(s\)"),
    ):
        api.list_farms()


def test_list_farms_hides_other_regions_kms_farms_from_monitor_profiles(
    aws_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_profile("monitor")
    monkeypatch.setenv("DEADLINE_CLOUD_REGIONS", "us-west-2,eu-west-1")
    home, away = stub_region("us-west-2"), stub_region("eu-west-1")
    home.add_response(
        "list_farms", {"farms": [farm("farm-home", kmsKeyArn="arn:kms")]}, {"principalId": "user-1"}
    )
    away.add_response(
        "list_farms",
        {"farms": [farm("farm-kms", kmsKeyArn="arn:kms"), farm("farm-open")]},
        {"principalId": "user-1"},
    )
    with home, away:
        farms = api.list_farms()["farms"]
    assert sorted(f["farmId"] for f in farms) == ["farm-home", "farm-open"]


def test_list_farms_scans_the_public_regions_without_overrides(aws_files: Path) -> None:
    use_profile("plain")
    stubs = [stub_region(region) for region in api._list_apis.DEFAULT_DEADLINE_REGIONS]
    for stub in stubs:
        stub.add_response("list_farms", {"farms": []}, {})
        stub.activate()
    try:
        assert api.list_farms() == {"farms": []}
        for stub in stubs:
            stub.assert_no_pending_responses()
    finally:
        for stub in stubs:
            stub.deactivate()


def test_explicit_region_lists_only_that_region(aws_files: Path) -> None:
    use_profile("plain")
    stub = stub_region("ap-southeast-2")
    stub.add_response("list_farms", {"farms": [farm("farm-x")]}, {})
    with stub:
        assert api.list_farms(region="ap-southeast-2")["farms"][0]["region"] == "ap-southeast-2"


def test_farm_region_from_config_scopes_farm_calls(aws_files: Path) -> None:
    # Given a farm whose configured region differs from the profile's
    use_profile("plain")
    config.set_setting("defaults.farm_id", "farm-eu")
    config.set_setting("defaults.farm_region", "eu-central-1")
    stub = stub_region("eu-central-1")
    stub.add_response("list_steps", {"steps": []}, {"farmId": "farm-eu", "queueId": "q", "jobId": "j"})
    with stub:
        # Then calls for that farm go to its region
        assert api.list_steps("farm-eu", "q", "j") == {"steps": []}


def test_proxy_and_ca_bundle_settings_apply_to_sessions(aws_files: Path) -> None:
    # Given proxy and CA bundle settings in a passed config
    use_profile("plain")
    scoped = config.read_config()
    config.set_setting("settings.https_proxy", " http://proxy.example:3128 ", scoped)
    config.set_setting("settings.ca_bundle", "~/ca.pem", scoped)
    # When a session is built with it
    session = api.get_boto3_session(config=scoped)
    # Then its clients use the proxy and the CA bundle
    default_config = session._session.get_default_client_config()
    assert default_config.proxies == {
        "http": "http://proxy.example:3128",
        "https": "http://proxy.example:3128",
    }
    assert session._session.get_config_variable("ca_bundle") == str(Path("~/ca.pem").expanduser())


def test_monitor_urls(aws_files: Path) -> None:
    use_profile("plain")
    base = "https://studio.us-west-2.deadlinecloud.amazonaws.com"
    assert api.build_monitor_url("studio") == f"{base}/farms"
    assert api.build_monitor_url("studio", farm_id="farm-1") == f"{base}/us-west-2/farms/farm-1"
    assert (
        api.build_monitor_url("studio", "eu-west-1", "farm-1", "queue-1", "job-1", monitor_region="us-west-2")
        == f"{base}/eu-west-1/farms/farm-1/queues/queue-1?jobId=job-1"
    )
    with pytest.raises(ValueError, match="job_id needs queue_id"):
        api.build_monitor_url("studio", farm_id="farm-1", job_id="job-1")


def test_monitor_profiles_get_a_job_link(aws_files: Path) -> None:
    from farmhand.client.api._monitor_url import monitor_job_url

    use_profile("monitor")
    client = api.get_boto3_client("deadline", None, "us-west-2")
    with Stubber(client) as stub:
        stub.add_response(
            "get_monitor",
            {
                "monitorId": "monitor-1",
                "displayName": "studio",
                "subdomain": "studio",
                "url": "https://studio.us-west-2.deadlinecloud.amazonaws.com",
                "roleArn": "arn:aws:iam::123456789012:role/monitor",
                "identityCenterInstanceArn": "arn:aws:sso:::instance/ssoins-1",
                "identityCenterApplicationArn": "arn:aws:sso::123456789012:application/ssoins-1/apl-1",
                "createdAt": NOW,
                "createdBy": "arn:x",
            },
            {"monitorId": "monitor-1"},
        )
        url = monitor_job_url("farm-1", "queue-1", "job-1", None)
    assert (
        url
        == "https://studio.us-west-2.deadlinecloud.amazonaws.com/us-west-2/farms/farm-1/queues/queue-1?jobId=job-1"
    )
    use_profile("plain")
    assert monitor_job_url("farm-1", "queue-1", "job-1", None) is None
