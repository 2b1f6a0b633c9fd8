"""`farmhand.client.api` against a real farm, configured exactly as a user would configure it.

One farm server per module. The client finds it through a temporary `~/.aws/config` profile with a
`[services]` section, a credentials file and a temporary `~/.deadline/config`.
"""

from __future__ import annotations

import configparser
import os
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _management import create_fleet
from botocore.exceptions import ClientError

from farmhand.client import api, config
from farmhand.client.api import _session
from farmhand.client.exceptions import DeadlineOperationError, DeadlineOperationTimedOut
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(120)

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
PROFILE = "farmhand-test"


def write_aws_files(directory: Path, url: str, access_key: str, secret_key: str) -> tuple[Path, Path]:
    aws_config = directory / "aws_config"
    aws_config.write_text(
        textwrap.dedent(
            f"""\
            [profile {PROFILE}]
            region = us-west-2
            services = farmhand-local
            disable_host_prefix_injection = true

            [profile monitor-sim]
            region = us-west-2
            services = farmhand-local
            disable_host_prefix_injection = true
            monitor_id = monitor-1
            user_id = user-1
            identity_store_id = d-1

            [profile broken]
            region = us-west-2
            services = farmhand-local
            disable_host_prefix_injection = true

            [services farmhand-local]
            deadline =
              endpoint_url = {url}
            cloudwatch_logs =
              endpoint_url = {url}
            sts =
              endpoint_url = {url}
            s3 =
              endpoint_url = {url}
            """
        )
    )
    credentials = directory / "aws_credentials"
    credentials.write_text(
        f"[{PROFILE}]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n\n"
        f"[monitor-sim]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n\n"
        "[broken]\naws_access_key_id = AKIANOTAREALKEY00000\naws_secret_access_key = wrong\n"
    )
    return aws_config, credentials


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A farm server, the user's AWS/deadline config files pointing at it, a farm and a queue."""
    directory = tmp_path_factory.mktemp("client_api")
    with ServerProcess(directory / "server") as server, pytest.MonkeyPatch.context() as env:
        aws_config, credentials = write_aws_files(
            directory, server.url, server.admin.access_key_id, server.admin.secret_access_key
        )
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DEADLINE", "DEADLINE_CLOUD_REGIONS"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(aws_config))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
        env.setenv("DEADLINE_CONFIG_FILE_PATH", str(directory / "deadline_config"))
        env.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", "true")
        _session.clear_session_caches()
        config.set_setting("defaults.aws_profile_name", PROFILE)
        deadline = api.get_boto3_client("deadline")
        farm_id = deadline.create_farm(displayName="client farm")["farmId"]
        queue_id = deadline.create_queue(farmId=farm_id, displayName="client queue")["queueId"]
        config.set_setting("defaults.farm_id", farm_id)
        config.set_setting("defaults.queue_id", queue_id)
        yield {
            "server": server,
            "deadline": deadline,
            "farm_id": farm_id,
            "queue_id": queue_id,
            "directory": directory,
        }
        _session.clear_session_caches()


def make_bundle(directory: Path, template: str, parameter_values: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "template.yaml").write_text(textwrap.dedent(template))
    if parameter_values is not None:
        (directory / "parameter_values.yaml").write_text(textwrap.dedent(parameter_values))
    return directory


TYPED_TEMPLATE = """\
    specificationVersion: jobtemplate-2023-09
    name: Typed
    parameterDefinitions:
    - name: Frames
      type: INT
      default: 3
    - name: Scale
      type: FLOAT
      default: 1.5
    - name: Label
      type: STRING
      default: hello
    - name: Scene
      type: PATH
      objectType: FILE
      dataFlow: IN
      default: scene.txt
    steps:
    - name: Render
      script:
        actions:
          onRun:
            command: echo
            args: ["{{Param.Frames}} {{Param.Scale}} {{Param.Label}} {{Param.Scene}}"]
    """


# -- sessions, credentials, auth -------------------------------------------------------------------


def test_session_and_clients_follow_the_configured_profile(farm: dict[str, Any]) -> None:
    # Given the deadline config names the profile
    # When a session and a client are requested
    session = api.get_boto3_session()
    client = api.get_boto3_client("deadline")
    # Then they use that profile and its [services] endpoint, and are cached
    assert session.profile_name == PROFILE
    assert client.meta.endpoint_url == farm["server"].url
    assert api.get_boto3_client("deadline") is client
    assert api.get_boto3_session(force_refresh=True) is not session


def test_credentials_source_is_host_provided_or_not_valid(farm: dict[str, Any]) -> None:
    # Given a plain access-key profile, and a config naming a profile that does not exist
    missing = config.read_config()
    config.set_setting("defaults.aws_profile_name", "no-such-profile", missing)
    # Then the source is HOST_PROVIDED for the first and NOT_VALID for the second
    assert api.get_credentials_source() == api.AwsCredentialsSource.HOST_PROVIDED
    assert api.get_credentials_source(config=missing) == api.AwsCredentialsSource.NOT_VALID


def test_authentication_status_through_sts(farm: dict[str, Any]) -> None:
    # Given the good profile and a profile whose keys the farm never issued
    broken = config.read_config()
    config.set_setting("defaults.aws_profile_name", "broken", broken)
    # When the status is checked (sts:GetCallerIdentity)
    # Then the good one is AUTHENTICATED and the broken one a CONFIGURATION_ERROR
    assert api.check_authentication_status() == api.AwsAuthenticationStatus.AUTHENTICATED
    assert api.check_authentication_status(config=broken) == api.AwsAuthenticationStatus.CONFIGURATION_ERROR
    missing = config.read_config()
    config.set_setting("defaults.aws_profile_name", "no-such-profile", missing)
    assert api.check_authentication_status(config=missing) == api.AwsAuthenticationStatus.CONFIGURATION_ERROR
    with pytest.warns(DeprecationWarning):
        assert api.check_deadline_api_available() is True


def test_account_id_is_the_farm_account_and_cached(farm: dict[str, Any]) -> None:
    session = api.get_boto3_session()
    expected = session.client("sts").get_caller_identity()["Account"]
    # When the account id is asked twice
    first = api.get_account_id(session)
    # Then it is the account of the credentials, from the cache the second time
    assert first == expected
    assert api.get_account_id(session) == first


# -- lists and reads -------------------------------------------------------------------------------


def test_list_farms_scans_one_region_behind_a_profile_endpoint_override(farm: dict[str, Any]) -> None:
    # Given the farm is reached through a profile [services] override (section 8, defect 10)
    # When farms are listed without a region
    farms = api.list_farms()["farms"]
    # Then each farm appears once, tagged with the profile's region
    ours = [f for f in farms if f["farmId"] == farm["farm_id"]]
    assert len(ours) == 1
    assert ours[0]["region"] == "us-west-2"
    assert ours[0]["displayName"] == "client farm"


def test_list_farms_does_not_repeat_farms_like_the_aws_client(farm: dict[str, Any]) -> None:
    from deadline.client import api as aws_api  # test-time reference only

    # The AWS client scans ten regions behind a [services] override and lists each farm ten times
    theirs = [f["farmId"] for f in aws_api.list_farms()["farms"] if f["farmId"] == farm["farm_id"]]
    ours = [f["farmId"] for f in api.list_farms()["farms"] if f["farmId"] == farm["farm_id"]]
    assert len(theirs) == 10
    assert ours == [farm["farm_id"]]


def test_lists_return_every_page_and_accept_a_caller_next_token(farm: dict[str, Any]) -> None:
    # Given five more queues
    deadline = farm["deadline"]
    names = {f"page queue {i}" for i in range(5)}
    for display_name in names:
        deadline.create_queue(farmId=farm["farm_id"], displayName=display_name)
    # When they are listed one per page
    every = api.list_queues(farmId=farm["farm_id"], maxResults=1)["queues"]
    # Then every page is concatenated and the result has only the list key
    assert names <= {q["displayName"] for q in every}
    assert set(api.list_queues(farmId=farm["farm_id"], maxResults=1)) == {"queues"}
    # And a caller-supplied nextToken continues from that page (section 0.4 raised TypeError)
    first_page = deadline.list_queues(farmId=farm["farm_id"], maxResults=2)
    rest = api.list_queues(farmId=farm["farm_id"], maxResults=1, nextToken=first_page["nextToken"])["queues"]
    assert [q["queueId"] for q in first_page["queues"] + rest] == [q["queueId"] for q in every]


def test_list_fleets_jobs_and_storage_profiles(farm: dict[str, Any]) -> None:
    deadline = farm["deadline"]
    fleet_id = create_fleet(deadline, farm["farm_id"], "client fleet", max_workers=2)
    fleets = api.list_fleets(farmId=farm["farm_id"])["fleets"]
    assert [f["displayName"] for f in fleets if f["fleetId"] == fleet_id] == ["client fleet"]
    jobs = api.list_jobs(farmId=farm["farm_id"], queueId=farm["queue_id"])
    assert set(jobs) == {"jobs"}
    profiles = api.list_storage_profiles_for_queue(farmId=farm["farm_id"], queueId=farm["queue_id"])
    assert profiles == {"storageProfiles": []}


def queue_with_environments(farm: dict[str, Any]) -> str:
    """A queue with two environments (priorities 1 and 2) that define `Venv` and `Conda`."""
    deadline = farm["deadline"]
    queue_id = str(deadline.create_queue(farmId=farm["farm_id"], displayName="env queue")["queueId"])
    for priority, name, parameter in ((2, "Second", "Conda"), (1, "First", "Venv")):
        deadline.create_queue_environment(
            farmId=farm["farm_id"],
            queueId=queue_id,
            priority=priority,
            templateType="YAML",
            template=textwrap.dedent(
                f"""\
                specificationVersion: environment-2023-09
                parameterDefinitions:
                - name: {parameter}
                  type: STRING
                  default: base
                environment:
                  name: {name}
                  script:
                    actions:
                      onEnter:
                        command: echo
                """
            ),
        )
    return queue_id


def test_queue_parameter_definitions_come_from_the_queue_environments(farm: dict[str, Any]) -> None:
    # Given a queue with two environments defining parameters, by priority
    queue_id = queue_with_environments(farm)
    # When the definitions are read
    definitions = api.get_queue_parameter_definitions(farmId=farm["farm_id"], queueId=queue_id)
    # Then they come in priority order, labelled with their environment
    assert [d["name"] for d in definitions] == ["Venv", "Conda"]
    assert definitions[0]["userInterface"]["groupLabel"] == "Queue Environment: First"
    assert definitions[0]["default"] == "base"


def test_queue_parameter_definitions_match_the_aws_client(farm: dict[str, Any]) -> None:
    from deadline.client import api as aws_api  # test-time reference only

    queue_id = queue_with_environments(farm)
    ours = api.get_queue_parameter_definitions(farmId=farm["farm_id"], queueId=queue_id)
    theirs = aws_api.get_queue_parameter_definitions(farmId=farm["farm_id"], queueId=queue_id)
    assert ours == theirs


def test_queue_parameters_carry_values_and_match_the_aws_client(farm: dict[str, Any]) -> None:
    from deadline.client import api as aws_api  # test-time reference only

    # Given a queue whose environments define Venv and Conda (default "base")
    queue_id = queue_with_environments(farm)
    # When a submitter asks for the queue's parameters, overriding one value
    ours = api.get_queue_parameters(farm["farm_id"], queue_id, {"Conda": "mine"})
    # Then each definition carries its value, as the AWS client gives them
    assert {p["name"]: p["value"] for p in ours} == {"Venv": "base", "Conda": "mine"}
    assert ours == aws_api.get_queue_parameters(farm["farm_id"], queue_id, {"Conda": "mine"})
    # And the farm's region may be named, as with the AWS client
    by_region = api.get_queue_parameter_definitions(
        region="us-west-2", farmId=farm["farm_id"], queueId=queue_id
    )
    assert [p["name"] for p in by_region] == ["Venv", "Conda"]


def test_reads_take_the_farms_region_as_the_aws_client_does(farm: dict[str, Any], tmp_path: Path) -> None:
    job_id = submit_simple(tmp_path)
    ids = {"farmId": farm["farm_id"], "queueId": farm["queue_id"], "jobId": job_id}
    assert api.get_job(**ids, region="us-west-2")["jobId"] == job_id
    (step,) = api.list_steps(**ids, region="us-west-2")["steps"]
    assert len(api.list_tasks(**ids, stepId=step["stepId"], region="us-west-2")["tasks"]) == 1
    assert api.list_sessions(**ids, region="us-west-2")["sessions"] == []
    found = api.search_jobs(farm["farm_id"], [farm["queue_id"]], region="us-west-2")
    assert job_id in [j["jobId"] for j in found["jobs"]]


# -- submission ------------------------------------------------------------------------------------


def test_submit_simple_bundle_and_read_the_job_back(farm: dict[str, Any]) -> None:
    bundle = BUNDLES / "greeting"
    printed: list[str] = []
    # When a bundle is submitted
    job_id = api.create_job_from_job_bundle(str(bundle), print_function_callback=printed.append)
    # Then the job exists, is created, and the job id was remembered in the config
    assert job_id is not None
    job = api.get_job(farm["farm_id"], farm["queue_id"], job_id)
    assert job["name"] == "Greeting Bundle"
    assert job["lifecycleStatus"] == "CREATE_COMPLETE"
    assert job["priority"] == 50
    assert job["maxRetriesPerTask"] == 5 and job["maxFailedTasksCount"] == 20
    assert config.get_setting("defaults.job_id") == job_id
    assert printed[0] == "Submitting to Queue: client queue\n"
    assert printed[-1].endswith(job_id)
    steps = api.list_steps(farm["farm_id"], farm["queue_id"], job_id)["steps"]
    assert [s["name"] for s in steps] == ["Greet"]
    tasks = api.list_tasks(farm["farm_id"], farm["queue_id"], job_id, steps[0]["stepId"])["tasks"]
    assert len(tasks) == 1
    found = api.search_jobs(name_contains="Greeting Bundle")
    assert job_id in [j["jobId"] for j in found["jobs"]]
    assert found["totalResults"] >= 1


def test_search_jobs_filters_pages_and_matches_the_aws_client(farm: dict[str, Any], tmp_path: Path) -> None:
    from deadline.client import api as aws_api  # test-time reference only

    # Given a queue of its own with three jobs, one of them suspended
    queue_id = farm["deadline"].create_queue(farmId=farm["farm_id"], displayName="search queue")["queueId"]
    scoped = config.read_config()
    config.set_setting("defaults.queue_id", queue_id, scoped)
    job_ids = [submit_simple(tmp_path / str(i), config=scoped) for i in range(3)]
    farm["deadline"].update_job(
        farmId=farm["farm_id"], queueId=queue_id, jobId=job_ids[0], targetTaskRunStatus="SUSPENDED"
    )
    # When jobs are searched by status, and a page at a time
    suspended = api.search_jobs(queue_ids=[queue_id], task_run_status="SUSPENDED", config=scoped)
    first = api.search_jobs(queue_ids=[queue_id], page_size=2, config=scoped)
    rest = api.search_jobs(
        queue_ids=[queue_id], page_size=2, item_offset=first["nextItemOffset"], config=scoped
    )
    # Then the filter and the paging hold, in the AWS client's shape
    assert [j["jobId"] for j in suspended["jobs"]] == [job_ids[0]]
    assert first["totalResults"] == 3 and len(first["jobs"]) == 2 and first["nextItemOffset"] == 2
    assert len(rest["jobs"]) == 1 and rest["nextItemOffset"] is None
    assert {j["jobId"] for j in first["jobs"] + rest["jobs"]} == set(job_ids)
    theirs = aws_api.search_jobs(farmId=farm["farm_id"], queueIds=[queue_id], taskRunStatus="SUSPENDED")
    assert theirs == suspended


@pytest.mark.parametrize(
    ("bundle_name", "values"),
    [
        ("greeting", []),
        ("directory_script", [{"name": "DataDir", "value": "/tmp"}]),
        (
            "every_control",
            [
                {"name": "Scene", "value": "/tmp/in.blend"},
                {"name": "Image", "value": "/tmp/out.png"},
                {"name": "WorkDir", "value": "/tmp"},
            ],
        ),
        ("two_stage_with_data", []),
    ],
)
def test_every_test_bundle_submits(
    farm: dict[str, Any], bundle_name: str, values: list[dict[str, Any]]
) -> None:
    bundle = BUNDLES / bundle_name
    job_id = api.create_job_from_job_bundle(str(bundle), values, print_function_callback=lambda *_: None)
    assert job_id is not None
    job = api.get_job(farm["farm_id"], farm["queue_id"], job_id)
    assert job["lifecycleStatus"] == "CREATE_COMPLETE"
    for name, value in job.get("parameters", {}).items():
        if "path" in value:  # PATH defaults are made absolute inside the bundle
            assert value["path"].startswith((str(bundle.resolve()), "/tmp")), name


def test_submit_typed_parameters_app_parameters_and_bundle_relative_paths(
    farm: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bundle whose parameter_values set a relative PATH and deadline:* parameters
    bundle = make_bundle(
        tmp_path / "typed",
        TYPED_TEMPLATE,
        """\
        parameterValues:
        - name: Scene
          value: scenes/shot1.txt
        - name: deadline:priority
          value: 70
        - name: deadline:maxRetriesPerTask
          value: 2
        """,
    )
    monkeypatch.chdir(tmp_path.parent)  # the working directory must not matter (section 8, defect 6)
    # When it is submitted with caller values and an explicit name
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": "Frames", "value": "7"}, {"name": "Scale", "value": "2"}],
        name="Renamed job",
        max_worker_count=3,
        print_function_callback=lambda *_: None,
    )
    assert job_id is not None
    # Then the job carries the typed values, the bundle's app parameters and the new name
    job = api.get_job(farm["farm_id"], farm["queue_id"], job_id)
    assert job["name"] == "Renamed job"
    assert job["priority"] == 70
    assert job["maxRetriesPerTask"] == 2
    assert job["maxWorkerCount"] == 3
    parameters = job["parameters"]
    assert parameters["Frames"] == {"int": "7"}
    assert parameters["Scale"] == {"float": "2"}
    assert parameters["Scene"] == {"path": str(bundle / "scenes" / "shot1.txt")}


def test_submit_with_unknown_or_mistyped_parameter_is_a_clear_error(
    farm: dict[str, Any], tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    # Unknown names are an error, not silently ignored (section 8, defect 6)
    with pytest.raises(DeadlineOperationError, match="no parameter named 'Frmaes'"):
        api.create_job_from_job_bundle(
            str(bundle), [{"name": "Frmaes", "value": "7"}], print_function_callback=lambda *_: None
        )
    with pytest.raises(DeadlineOperationError, match="'Frames' needs an integer"):
        api.create_job_from_job_bundle(
            str(bundle), [{"name": "Frames", "value": "seven"}], print_function_callback=lambda *_: None
        )


def test_submit_merges_queue_environment_parameters(farm: dict[str, Any], tmp_path: Path) -> None:
    queue_id = queue_with_environments(farm)
    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    submit_config = config.read_config()
    config.set_setting("defaults.queue_id", queue_id, submit_config)
    # When a queue-environment parameter is given a value
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": "Venv", "value": "custom"}],
        config=submit_config,
        print_function_callback=lambda *_: None,
    )
    assert job_id is not None
    # Then the job carries it next to the template's own parameters
    job = api.get_job(farm["farm_id"], queue_id, job_id, config=submit_config)
    assert job["parameters"]["Venv"] == {"string": "custom"}


def test_submit_honours_a_passed_config_everywhere(farm: dict[str, Any], tmp_path: Path) -> None:
    # Given the on-disk config names a profile the farm rejects (section 8, defects 2 and 3)
    good = config.read_config()
    config.set_setting("defaults.aws_profile_name", "broken")
    try:
        bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
        # When a config naming the good profile is passed
        job_id = api.create_job_from_job_bundle(
            str(bundle), config=good, print_function_callback=lambda *_: None
        )
        # Then every call (GetQueue, ListQueueEnvironments, CreateJob, GetJob) used it
        assert job_id is not None
        assert api.get_job(farm["farm_id"], farm["queue_id"], job_id, config=good)["name"] == "Typed"
        # And the passed config got the job id; the file on disk did not change profile
        assert config.get_setting("defaults.job_id", good) == job_id
        assert config.get_setting("defaults.aws_profile_name") == "broken"
    finally:
        config.set_setting("defaults.aws_profile_name", PROFILE)


def test_submission_matches_the_aws_client_on_the_same_farm(farm: dict[str, Any], tmp_path: Path) -> None:
    # The AWS `deadline` package is only a test-time reference for the request it builds.
    from deadline.client import api as aws_api

    bundle = make_bundle(
        tmp_path / "typed",
        TYPED_TEMPLATE,
        """\
        parameterValues:
        - name: deadline:priority
          value: 65
        """,
    )
    caller = [
        {"name": "Frames", "value": "12"},
        {"name": "Scale", "value": "0.25"},
        {"name": "Scene", "value": str(tmp_path / "scene.txt")},
    ]
    # When the same bundle is submitted by both clients to the same queue
    ours = api.create_job_from_job_bundle(str(bundle), caller, print_function_callback=lambda *_: None)
    theirs = aws_api.create_job_from_job_bundle(str(bundle), caller, print_function_callback=lambda *_: None)
    assert ours and theirs
    # Then the jobs are the same in every member the request decides
    compared = (
        "name",
        "priority",
        "maxRetriesPerTask",
        "maxFailedTasksCount",
        "parameters",
        "lifecycleStatus",
    )
    our_job = api.get_job(farm["farm_id"], farm["queue_id"], ours)
    their_job = api.get_job(farm["farm_id"], farm["queue_id"], theirs)
    assert {k: our_job.get(k) for k in compared} == {k: their_job.get(k) for k in compared}
    assert our_job["priority"] == 65


def test_template_that_fails_validation_names_the_field(farm: dict[str, Any], tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path / "bad",
        """\
        specificationVersion: jobtemplate-2023-09
        name: Bad
        steps:
        - name: Render
          script:
            actions:
              onRun:
                comand: echo
        """,
    )
    with pytest.raises(DeadlineOperationError, match="command"):
        api.create_job_from_job_bundle(str(bundle), print_function_callback=lambda *_: None)


def test_unknown_farm_queue_or_profile(farm: dict[str, Any], tmp_path: Path) -> None:
    from botocore.exceptions import ProfileNotFound

    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    quiet: dict[str, Any] = {"print_function_callback": lambda *_: None}
    # An unknown queue or farm is the service's own error
    for setting, unknown_id in (
        ("defaults.queue_id", "queue-00000000000000000000000000000000"),
        ("defaults.farm_id", "farm-00000000000000000000000000000000"),
    ):
        scoped = config.read_config()
        config.set_setting(setting, unknown_id, scoped)
        if setting == "defaults.farm_id":
            config.set_setting("defaults.queue_id", farm["queue_id"], scoped)
        with pytest.raises(ClientError) as info:
            api.create_job_from_job_bundle(str(bundle), config=scoped, **quiet)
        assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # A profile that does not exist is botocore's ProfileNotFound, as with the AWS client
    missing = config.read_config()
    config.set_setting("defaults.aws_profile_name", "no-such-profile", missing)
    with pytest.raises(ProfileNotFound, match="no-such-profile"):
        api.create_job_from_job_bundle(str(bundle), config=missing, **quiet)
    # And no farm configured at all is a clear error
    unset = config.read_config()
    config.set_setting("defaults.aws_profile_name", "broken", unset)
    with pytest.raises(DeadlineOperationError, match="No farm is configured"):
        api.create_job_from_job_bundle(str(bundle), config=unset, **quiet)


def test_debug_snapshot_writes_the_request_and_creates_no_job(farm: dict[str, Any], tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    before = len(api.list_jobs(farmId=farm["farm_id"], queueId=farm["queue_id"])["jobs"])
    # When a debug snapshot is asked for
    result = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": "Frames", "value": 9}],
        debug_snapshot_dir=str(tmp_path / "snapshot"),
        print_function_callback=lambda *_: None,
    )
    # Then nothing is submitted and the request is on disk
    assert result is None
    assert len(api.list_jobs(farmId=farm["farm_id"], queueId=farm["queue_id"])["jobs"]) == before
    snapshot = tmp_path / "snapshot"
    import json

    arguments = json.loads((snapshot / "create_job_args.json").read_text())
    assert arguments["parameters"]["Frames"] == {"int": "9"}
    assert (snapshot / "template_param.data").read_text() == (bundle / "template.yaml").read_text()
    assert json.loads((snapshot / "queue.json").read_text())["displayName"] == "client queue"
    assert "aws deadline create-job" in (snapshot / "submit_job.sh").read_text()


def test_progress_callbacks_are_honoured_without_attachments(farm: dict[str, Any], tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    hashing: list[Any] = []
    uploads: list[Any] = []
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        hashing_progress_callback=hashing.append,
        upload_progress_callback=uploads.append,
        create_job_result_callback=lambda: True,
        print_function_callback=lambda *_: None,
    )
    assert job_id is not None
    assert [(p.progress, p.progressMessage) for p in hashing] == [(100.0, "No files to hash")]
    assert [(p.progress, p.progressMessage) for p in uploads] == [(100.0, "No files to upload")]


def test_storage_profile_from_config_goes_with_the_job(farm: dict[str, Any], tmp_path: Path) -> None:
    # Given a storage profile the queue allows, configured for this workstation
    deadline = farm["deadline"]
    profile_id = deadline.create_storage_profile(
        farmId=farm["farm_id"],
        displayName="workstation",
        osFamily="LINUX",
        fileSystemLocations=[{"name": "Projects", "path": "/projects", "type": "SHARED"}],
    )["storageProfileId"]
    deadline.update_queue(
        farmId=farm["farm_id"], queueId=farm["queue_id"], allowedStorageProfileIdsToAdd=[profile_id]
    )
    scoped = config.read_config()
    config.set_setting("settings.storage_profile_id", profile_id, scoped)
    profiles = api.list_storage_profiles_for_queue(farmId=farm["farm_id"], queueId=farm["queue_id"])
    assert [p["storageProfileId"] for p in profiles["storageProfiles"]] == [profile_id]
    # When a bundle is submitted, and snapshotted
    job_id = submit_simple(tmp_path, config=scoped)
    api.create_job_from_job_bundle(
        str(tmp_path / "typed"),
        config=scoped,
        debug_snapshot_dir=str(tmp_path / "snapshot"),
        print_function_callback=lambda *_: None,
    )
    # Then the job names the profile and the snapshot holds it
    assert api.get_job(farm["farm_id"], farm["queue_id"], job_id)["storageProfileId"] == profile_id
    import json

    snapshot_profile = json.loads((tmp_path / "snapshot" / "storage_profile.json").read_text())
    assert snapshot_profile["displayName"] == "workstation"
    deadline.update_queue(
        farmId=farm["farm_id"], queueId=farm["queue_id"], allowedStorageProfileIdsToRemove=[profile_id]
    )


def test_attachment_queue_takes_paths_as_they_are_and_checks_inputs(
    farm: dict[str, Any], tmp_path: Path
) -> None:
    # Given a queue with job attachment settings (uploads come with a later feature)
    queue_id = queue_with_role(farm)
    scoped = config.read_config()
    config.set_setting("defaults.queue_id", queue_id, scoped)
    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    missing = tmp_path / "missing.txt"
    quiet: dict[str, Any] = {"config": scoped, "print_function_callback": lambda *_: None}
    # When an input file is missing and the caller requires paths to exist, it is an error
    with pytest.raises(api.MisconfiguredInputsError, match="Missing input files"):
        api.create_job_from_job_bundle(
            str(bundle), [{"name": "Scene", "value": str(missing)}], require_paths_exist=True, **quiet
        )
    # And a directory given as an input file is always an error
    with pytest.raises(api.MisconfiguredInputsError, match="Directories classified as files"):
        api.create_job_from_job_bundle(str(bundle), [{"name": "Scene", "value": str(tmp_path)}], **quiet)
    # Otherwise the job is submitted with the path as it is
    printed: list[str] = []
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": "Scene", "value": str(missing)}],
        config=scoped,
        print_function_callback=printed.append,
    )
    assert job_id is not None
    job = api.get_job(farm["farm_id"], queue_id, job_id)
    assert job["parameters"]["Scene"] == {"path": str(missing)}
    assert any("does not exist" in line for line in printed)


HOOKS = """\
preSubmission:
- command: bash
  args: ["{record}/hook.sh", "pre"]
  env:
    PRE_OUTPUT: '{output}'
postSubmission:
- command: bash
  args: ["{record}/hook.sh", "post"]
  env:
    POST_EXIT: "{post_exit}"
"""
# Records stdin and the DEADLINE_* variables of each run, prints PRE_OUTPUT, exits with POST_EXIT.
HOOK_SCRIPT = """\
record="$(dirname "$0")"
cat > "$record/$1-$$.json"
env | grep ^DEADLINE_ | sort > "$record/$1-$$.env"
if [ "$1" = pre ]; then echo "$PRE_OUTPUT"; else exit "$POST_EXIT"; fi
"""


def hooked_bundle(tmp_path: Path, output: str = "", post_exit: int = 0) -> tuple[Path, Path]:
    record = tmp_path / "record"
    record.mkdir(parents=True, exist_ok=True)
    (record / "hook.sh").write_text(HOOK_SCRIPT)
    bundle = make_bundle(tmp_path / "hooked", TYPED_TEMPLATE)
    (bundle / "hooks.yaml").write_text(HOOKS.format(record=record, output=output, post_exit=post_exit))
    return bundle, record


def hooks_allowed(auto_accept: bool = False) -> configparser.ConfigParser:
    scoped = config.read_config()
    config.set_setting("settings.allow_bundle_hooks", "true", scoped)
    config.set_setting("settings.auto_accept", str(auto_accept).lower(), scoped)
    return scoped


def test_bundle_hooks_run_only_when_allowed_and_confirmed(farm: dict[str, Any], tmp_path: Path) -> None:
    bundle, record = hooked_bundle(tmp_path)
    quiet: dict[str, Any] = {"print_function_callback": lambda *_: None}
    # Without the setting the hooks file is ignored
    assert api.create_job_from_job_bundle(str(bundle), **quiet)
    assert [p.name for p in record.iterdir()] == ["hook.sh"]
    # Allowed but nobody to ask: canceled; asked and refused: canceled by the user
    with pytest.raises(api.DeadlineOperationCanceled):
        api.create_job_from_job_bundle(str(bundle), config=hooks_allowed(), **quiet)
    questions: list[str] = []

    def refuse(message: str, default: bool) -> bool:
        questions.append(message)
        return False

    with pytest.raises(api.UserInitiatedCancel):
        api.create_job_from_job_bundle(
            str(bundle), config=hooks_allowed(), interactive_confirmation_callback=refuse, **quiet
        )
    assert "[1] bash " in questions[0] and "hook.sh pre" in questions[0] and str(bundle) in questions[0]
    assert [p.name for p in record.iterdir()] == ["hook.sh"]


def test_pre_submission_hook_changes_the_job_and_post_hook_sees_it(
    farm: dict[str, Any], tmp_path: Path
) -> None:
    # Given a pre-submission hook that raises the priority and sets two parameters
    output = '{"priority": 77, "parameters": {"Label": "from hook", "Frames": "9"}}'
    bundle, record = hooked_bundle(tmp_path, output=output)
    # When it is submitted with auto-accept and a caller value for Frames
    job_id = api.create_job_from_job_bundle(
        str(bundle),
        [{"name": "Frames", "value": "4"}],
        config=hooks_allowed(auto_accept=True),
        print_function_callback=lambda *_: None,
    )
    assert job_id is not None
    # Then the job has the hook's priority and Label, and the caller's Frames
    job = api.get_job(farm["farm_id"], farm["queue_id"], job_id)
    assert job["priority"] == 77
    assert job["parameters"]["Label"] == {"string": "from hook"}
    assert job["parameters"]["Frames"] == {"int": "4"}
    # And the hooks got the submission on stdin and in DEADLINE_* variables
    import json

    pre = json.loads(next(record.glob("pre-*.json")).read_text())
    assert pre["farmId"] == farm["farm_id"] and pre["queueId"] == farm["queue_id"]
    assert pre["jobName"] == "Typed" and pre["priority"] == 50 and pre["submitterName"] == "Custom"
    assert pre["parameters"]["Frames"] == "4" and pre["submissionPayload"] == {}
    environment = next(record.glob("pre-*.env")).read_text()
    assert f"DEADLINE_FARM_ID={farm['farm_id']}" in environment and "DEADLINE_PRIORITY=50" in environment
    post = json.loads(next(record.glob("post-*.json")).read_text())
    assert post["jobId"] == job_id and post["submissionPayload"]["priority"] == 77


def test_failing_hooks(farm: dict[str, Any], tmp_path: Path) -> None:
    before = len(api.list_jobs(farmId=farm["farm_id"], queueId=farm["queue_id"])["jobs"])
    bundle, _ = hooked_bundle(tmp_path / "a", output="not json")
    with pytest.raises(DeadlineOperationError, match=r"Pre-submission hook \[1\] produced invalid JSON"):
        api.create_job_from_job_bundle(
            str(bundle), config=hooks_allowed(auto_accept=True), print_function_callback=lambda *_: None
        )
    assert len(api.list_jobs(farmId=farm["farm_id"], queueId=farm["queue_id"])["jobs"]) == before
    # A failing post-submission hook is reported; the job stays submitted
    bundle, _ = hooked_bundle(tmp_path / "b", post_exit=3)
    printed: list[str] = []
    job_id = api.create_job_from_job_bundle(
        str(bundle), config=hooks_allowed(auto_accept=True), print_function_callback=printed.append
    )
    assert job_id is not None
    assert any("Post-submission hook [1] failed with exit code 3" in line for line in printed)


def test_hooks_see_what_the_aws_client_hooks_see(farm: dict[str, Any], tmp_path: Path) -> None:
    from deadline.client import api as aws_api  # test-time reference only

    bundle, record = hooked_bundle(tmp_path)
    caller = [{"name": "Frames", "value": "5"}]
    config.set_setting("settings.allow_bundle_hooks", "true")
    config.set_setting("settings.auto_accept", "true")
    try:
        api.create_job_from_job_bundle(str(bundle), caller, print_function_callback=lambda *_: None)
        aws_api.create_job_from_job_bundle(str(bundle), caller, print_function_callback=lambda *_: None)
    finally:
        config.set_setting("settings.allow_bundle_hooks", "false")
        config.set_setting("settings.auto_accept", "false")
    import json

    ours, theirs = sorted(record.glob("pre-*.json"), key=lambda p: p.stat().st_mtime_ns)
    assert json.loads(ours.read_text()) == json.loads(theirs.read_text())
    our_env, their_env = sorted(record.glob("pre-*.env"), key=lambda p: p.stat().st_mtime_ns)
    assert our_env.read_text() == their_env.read_text()


# -- waiting ---------------------------------------------------------------------------------------


def submit_simple(tmp_path: Path, **kwargs: Any) -> str:
    bundle = make_bundle(tmp_path / "typed", TYPED_TEMPLATE)
    job_id = api.create_job_from_job_bundle(str(bundle), print_function_callback=lambda *_: None, **kwargs)
    assert job_id is not None
    return job_id


def test_wait_for_create_job_reports_completion(farm: dict[str, Any], tmp_path: Path) -> None:
    job_id = submit_simple(tmp_path)
    done, message = api.wait_for_create_job_to_complete(
        farm["farm_id"], farm["queue_id"], job_id, farm["deadline"], lambda: True
    )
    assert done is True
    assert message == api.get_job(farm["farm_id"], farm["queue_id"], job_id)["lifecycleStatusMessage"]


def test_wait_for_create_job_stops_when_the_caller_says_so(farm: dict[str, Any], tmp_path: Path) -> None:
    job_id = submit_simple(tmp_path)
    with pytest.raises(api.CreateJobWaiterCanceled):
        api.wait_for_create_job_to_complete(
            farm["farm_id"], farm["queue_id"], job_id, farm["deadline"], lambda: False
        )


def test_wait_for_job_completion_returns_a_terminal_status(farm: dict[str, Any], tmp_path: Path) -> None:
    # Given a job canceled by its owner
    job_id = submit_simple(tmp_path)
    farm["deadline"].update_job(
        farmId=farm["farm_id"], queueId=farm["queue_id"], jobId=job_id, targetTaskRunStatus="CANCELED"
    )
    statuses: list[str] = []
    # When the caller waits for it
    result = api.wait_for_job_completion(
        farm["farm_id"],
        farm["queue_id"],
        job_id,
        max_poll_interval=1,
        status_callback=lambda s, *_: statuses.append(s),
    )
    # Then the wait ends with the terminal status and no failed tasks
    assert result.status == "CANCELED"
    assert result.failed_tasks == []
    assert statuses[-1] == "CANCELED"
    assert result.elapsed_time >= 0


def test_wait_for_job_completion_succeeds(farm: dict[str, Any], tmp_path: Path) -> None:
    # Given a job whose only task was marked succeeded
    job_id = submit_simple(tmp_path)
    deadline = farm["deadline"]
    ids = {"farmId": farm["farm_id"], "queueId": farm["queue_id"], "jobId": job_id}
    step = deadline.list_steps(**ids)["steps"][0]
    task = deadline.list_tasks(**ids, stepId=step["stepId"])["tasks"][0]
    deadline.update_task(**ids, stepId=step["stepId"], taskId=task["taskId"], targetRunStatus="SUCCEEDED")
    jobs_seen: list[dict[str, Any]] = []
    # When the caller waits, watching the job
    result = api.wait_for_job_completion(
        farm["farm_id"],
        farm["queue_id"],
        job_id,
        max_poll_interval=1,
        job_callback=lambda j, *_: jobs_seen.append(j),
    )
    # Then it succeeded, with no failed-task lookup
    assert result.status == "SUCCEEDED" and result.failed_tasks == []
    assert jobs_seen[-1]["jobId"] == job_id


def test_farm_reads_accept_deadline_060_camel_case_keywords(farm: dict[str, Any], tmp_path: Path) -> None:
    job_id = submit_simple(tmp_path)
    by_snake = api.get_job(farm_id=farm["farm_id"], queue_id=farm["queue_id"], job_id=job_id)
    by_camel = api.get_job(farmId=farm["farm_id"], queueId=farm["queue_id"], jobId=job_id)
    assert by_camel["jobId"] == by_snake["jobId"] == job_id
    steps = api.list_steps(farmId=farm["farm_id"], queueId=farm["queue_id"], jobId=job_id, maxResults=1)[
        "steps"
    ]
    assert len(steps) == 1
    with pytest.raises(TypeError, match="both 'farmId' and 'farm_id'"):
        api.get_job(farm["farm_id"], farm["queue_id"], job_id, farmId="x", farm_id="y")


def test_wait_for_job_completion_lists_failed_tasks(farm: dict[str, Any], tmp_path: Path) -> None:
    # Given a job whose only task was marked failed
    job_id = submit_simple(tmp_path)
    deadline = farm["deadline"]
    step = deadline.list_steps(farmId=farm["farm_id"], queueId=farm["queue_id"], jobId=job_id)["steps"][0]
    task = deadline.list_tasks(
        farmId=farm["farm_id"], queueId=farm["queue_id"], jobId=job_id, stepId=step["stepId"]
    )["tasks"][0]
    deadline.update_task(
        farmId=farm["farm_id"],
        queueId=farm["queue_id"],
        jobId=job_id,
        stepId=step["stepId"],
        taskId=task["taskId"],
        targetRunStatus="FAILED",
    )
    # When the caller waits
    result = api.wait_for_job_completion(farm["farm_id"], farm["queue_id"], job_id, max_poll_interval=1)
    # Then the failed task is reported with its step
    assert result.status == "FAILED"
    assert [(t.step_id, t.task_id, t.step_name) for t in result.failed_tasks] == [
        (step["stepId"], task["taskId"], "Render")
    ]


def test_wait_for_job_completion_times_out(farm: dict[str, Any], tmp_path: Path) -> None:
    job_id = submit_simple(tmp_path)  # READY, and no worker will ever pick it up here
    with pytest.raises(DeadlineOperationTimedOut, match=f"Timeout waiting for job {job_id}"):
        api.wait_for_job_completion(
            farm["farm_id"], farm["queue_id"], job_id, max_poll_interval=0.2, timeout=0.6
        )


# -- logs ------------------------------------------------------------------------------------------


def put_log_lines(farm: dict[str, Any], group: str, stream: str, lines: list[str]) -> datetime:
    logs = api.get_boto3_client("logs")
    now = datetime.now(UTC)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": int((now + timedelta(milliseconds=i)).timestamp() * 1000), "message": line}
            for i, line in enumerate(lines)
        ],
    )
    return now


def test_session_logs_by_session_id(farm: dict[str, Any]) -> None:
    group = f"/aws/deadline/{farm['farm_id']}/{farm['queue_id']}"
    session_id = "session-0123456789abcdef0123456789abcdef"
    try:
        api.get_boto3_client("logs").create_log_group(logGroupName=group)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    put_log_lines(farm, group, session_id, ["first line  ", "second line"])
    # When the session's log is read
    result = api.get_session_logs(farm["farm_id"], farm["queue_id"], session_id=session_id)
    # Then the events come back right-stripped, with the group and stream named
    assert [e.message for e in result.events] == ["first line", "second line"]
    assert result.log_group == group and result.log_stream == session_id
    assert result.count == 2
    assert result.events[0].timestamp.tzinfo is not None
    assert result.next_token


def test_session_logs_of_an_unknown_stream_are_empty(farm: dict[str, Any]) -> None:
    result = api.get_session_logs(
        farm["farm_id"], farm["queue_id"], session_id="session-ffffffffffffffffffffffffffffffff"
    )
    assert result.events == [] and result.next_token is None and result.count == 0


def test_session_logs_need_a_session_or_a_job(farm: dict[str, Any]) -> None:
    with pytest.raises(DeadlineOperationError, match="Either session_id or job_id must be provided"):
        api.get_session_logs(farm["farm_id"], farm["queue_id"])


def test_session_logs_by_job_without_sessions(farm: dict[str, Any], tmp_path: Path) -> None:
    job_id = submit_simple(tmp_path)
    with pytest.raises(DeadlineOperationError, match=f"No sessions found for job {job_id}"):
        api.get_session_logs(farm["farm_id"], farm["queue_id"], job_id=job_id)


def test_worker_logs(farm: dict[str, Any]) -> None:
    fleet_id = "fleet-0123456789abcdef0123456789abcdef"
    worker_id = "worker-0123456789abcdef0123456789abcdef"
    group = f"/aws/deadline/{farm['farm_id']}/{fleet_id}"
    try:
        api.get_boto3_client("logs").create_log_group(logGroupName=group)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    put_log_lines(farm, group, worker_id, ["worker started"])
    result = api.get_worker_logs(farm["farm_id"], fleet_id, worker_id)
    assert [e.message for e in result.events] == ["worker started"]
    assert (result.worker_id, result.fleet_id, result.log_group) == (worker_id, fleet_id, group)


def monitor_config(farm: dict[str, Any], queue_id: str) -> configparser.ConfigParser:
    """A config whose profile looks like a Deadline Cloud monitor login (same keys underneath)."""
    scoped = config.read_config()
    config.set_setting("defaults.aws_profile_name", "monitor-sim", scoped)
    config.set_setting("defaults.farm_id", farm["farm_id"], scoped)
    config.set_setting("defaults.queue_id", queue_id, scoped)
    return scoped


def test_monitor_profiles_read_session_logs_with_queue_role_credentials(farm: dict[str, Any]) -> None:
    # Given a queue with a role, a session log in it, and a monitor-style profile
    queue_id = queue_with_role(farm)
    group = f"/aws/deadline/{farm['farm_id']}/{queue_id}"
    session_id = "session-abcdefabcdefabcdefabcdefabcdefab"
    put_log_lines(farm, group, session_id, ["from the queue role"])
    scoped = monitor_config(farm, queue_id)
    assert api.get_credentials_source(config=scoped) == api.AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN
    # When the log is read, the client goes through the queue-user session
    result = api.get_session_logs(farm["farm_id"], queue_id, session_id=session_id, config=scoped)
    # Then the events come back
    assert [e.message for e in result.events] == ["from the queue role"]


def test_monitor_profiles_read_worker_logs_with_fleet_role_credentials(farm: dict[str, Any]) -> None:
    deadline = farm["deadline"]
    fleet_id = create_fleet(deadline, farm["farm_id"], "log fleet", max_workers=1)
    worker_id = "worker-abcdefabcdefabcdefabcdefabcdefab"
    put_log_lines(farm, f"/aws/deadline/{farm['farm_id']}/{fleet_id}", worker_id, ["agent up"])
    scoped = monitor_config(farm, farm["queue_id"])
    result = api.get_worker_logs(farm["farm_id"], fleet_id, worker_id, config=scoped)
    assert [e.message for e in result.events] == ["agent up"]


# -- queue roles -----------------------------------------------------------------------------------


def queue_with_role(farm: dict[str, Any]) -> str:
    return str(
        farm["deadline"].create_queue(
            farmId=farm["farm_id"],
            displayName="role queue",
            roleArn="arn:aws:iam::123456789012:role/queue",
            jobAttachmentSettings={"s3BucketName": "attachments", "rootPrefix": "farmhand"},
        )["queueId"]
    )


def test_assume_queue_roles_return_temporary_credentials(farm: dict[str, Any]) -> None:
    queue_id = queue_with_role(farm)
    user = api.assume_queue_role_for_user(farm["farm_id"], queue_id)
    read = api.assume_queue_role_for_read(farm["farm_id"], queue_id)
    for response in (user, read):
        credentials = response["credentials"]
        assert credentials["accessKeyId"] and credentials["secretAccessKey"] and credentials["sessionToken"]
        assert credentials["expiration"] > datetime.now(UTC)


def test_queue_user_session_acts_as_the_queue_role(farm: dict[str, Any]) -> None:
    queue_id = queue_with_role(farm)
    deadline = api.get_boto3_client("deadline")
    # Given farm/queue ids only in the passed config (section 8, defect 3)
    scoped = config.read_config()
    config.set_setting("defaults.queue_id", queue_id, scoped)
    # When the queue-user session is built and used
    session = api.get_queue_user_boto3_session(deadline, config=scoped)
    frozen = session.get_credentials().get_frozen_credentials()
    # Then its credentials are the queue role's, and it keeps the profile's endpoint override
    assert frozen.token
    assert session.client("logs").meta.endpoint_url == farm["server"].url
    assert api.get_queue_user_boto3_session(deadline, config=scoped) is session
    returned_deadline, s3 = api.precache_clients(deadline, config=scoped)
    assert returned_deadline is deadline
    assert s3.meta.service_model.service_name == "s3"


def test_queue_user_session_for_an_unknown_queue_is_a_clear_error(farm: dict[str, Any]) -> None:
    deadline = api.get_boto3_client("deadline")
    unknown = "queue-0123456789abcdef0123456789abcdef"
    session = api.get_queue_user_boto3_session(deadline, farm_id=farm["farm_id"], queue_id=unknown)
    with pytest.raises(
        DeadlineOperationError, match=f"Failed to assume Queue role for user on Queue '{unknown}'"
    ):
        session.get_credentials()


def test_a_passed_config_is_honoured_by_every_function(farm: dict[str, Any], tmp_path: Path) -> None:
    # Given a job, a role queue, and an on-disk config naming a profile the farm rejects
    job_id = submit_simple(tmp_path)
    role_queue = queue_with_role(farm)
    step_id = api.list_steps(farm["farm_id"], farm["queue_id"], job_id)["steps"][0]["stepId"]
    farm["deadline"].update_job(
        farmId=farm["farm_id"], queueId=farm["queue_id"], jobId=job_id, targetTaskRunStatus="CANCELED"
    )
    good = config.read_config()
    config.set_setting("defaults.aws_profile_name", "broken")
    ids = {"farmId": farm["farm_id"], "queueId": farm["queue_id"]}
    try:
        # Then every function given the good config works, reading nothing from the file on disk
        calls = {
            "list_farms": lambda: api.list_farms(config=good),
            "list_queues": lambda: api.list_queues(config=good, farmId=farm["farm_id"]),
            "list_fleets": lambda: api.list_fleets(config=good, farmId=farm["farm_id"]),
            "list_jobs": lambda: api.list_jobs(config=good, **ids),
            "list_storage_profiles_for_queue": lambda: api.list_storage_profiles_for_queue(
                config=good, **ids
            ),
            "list_steps": lambda: api.list_steps(farm["farm_id"], farm["queue_id"], job_id, config=good),
            "list_tasks": lambda: api.list_tasks(
                farm["farm_id"], farm["queue_id"], job_id, step_id, config=good
            ),
            "list_sessions": lambda: api.list_sessions(
                farm["farm_id"], farm["queue_id"], job_id, config=good
            ),
            "get_job": lambda: api.get_job(farm["farm_id"], farm["queue_id"], job_id, config=good),
            "search_jobs": lambda: api.search_jobs(config=good),
            "get_queue_parameter_definitions": lambda: api.get_queue_parameter_definitions(
                config=good, **ids
            ),
            "wait_for_job_completion": lambda: api.wait_for_job_completion(
                farm["farm_id"], farm["queue_id"], job_id, config=good
            ),
            "get_session_logs": lambda: api.get_session_logs(
                farm["farm_id"], farm["queue_id"], session_id="session-" + "1" * 32, config=good
            ),
            "get_worker_logs": lambda: api.get_worker_logs(
                farm["farm_id"], "fleet-" + "1" * 32, "worker-" + "1" * 32, config=good
            ),
            "assume_queue_role_for_user": lambda: api.assume_queue_role_for_user(
                farm["farm_id"], role_queue, config=good
            ),
            "assume_queue_role_for_read": lambda: api.assume_queue_role_for_read(
                farm["farm_id"], role_queue, config=good
            ),
            "get_queue_user_boto3_session": lambda: api.get_queue_user_boto3_session(
                api.get_boto3_client("deadline", good), config=good, queue_id=role_queue
            ).get_credentials(),
            "check_authentication_status": lambda: api.check_authentication_status(config=good),
        }
        results = {name: call() for name, call in calls.items()}
        assert results["check_authentication_status"] == api.AwsAuthenticationStatus.AUTHENTICATED
        assert results["get_job"]["jobId"] == job_id
        assert results["wait_for_job_completion"].status == "CANCELED"
        # And the same calls without it use the broken profile
        with pytest.raises(ClientError):
            api.get_job(farm["farm_id"], farm["queue_id"], job_id)
    finally:
        config.set_setting("defaults.aws_profile_name", PROFILE)


# -- telemetry -------------------------------------------------------------------------------------


def test_telemetry_events_reach_the_farm(farm: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given telemetry is on for this client
    monkeypatch.setenv("DEADLINE_CLOUD_TELEMETRY_OPT_OUT", "false")
    client = api.TelemetryClient("farmhand-test-package", "1.2.3.4")
    # When an event is recorded
    client.record_event("test_event", {"answer": 42})
    client.flush()
    # Then the farm stored it with the workstation identity
    database = farm["directory"] / "server" / "farmhand.db"
    deadline_time = time.monotonic() + 5
    bodies: list[str] = []
    while time.monotonic() < deadline_time:
        with sqlite3.connect(database) as connection:
            bodies = [row[0] for row in connection.execute("select body from telemetry_events")]
        if any("test_event" in body for body in bodies):
            break
        time.sleep(0.1)
    import json

    events = [json.loads(b) for b in bodies if "com.amazon.rum.deadline.test_event" in b]
    assert len(events) == 1
    event = events[0]
    assert event["UserDetails"]["userId"] == config.get_setting("telemetry.identifier")
    assert event["UserDetails"]["sessionId"] == client.session_id
    details = json.loads(event["RumEvents"][0]["details"])
    assert details["answer"] == 42 and details["usage_mode"] == "CLI"
    assert json.loads(event["RumEvents"][0]["metadata"])["version"] == "1.2.3"


def test_config_file_written_by_farmhand_is_read_by_the_aws_client(farm: dict[str, Any]) -> None:
    # The AWS client is only a test-time reference here: both tools share one configuration.
    from deadline.client.config import config_file as aws_config_file

    assert aws_config_file.get_setting("defaults.aws_profile_name") == PROFILE
    assert aws_config_file.get_setting("defaults.farm_id") == farm["farm_id"]
    assert aws_config_file.get_setting("defaults.queue_id") == farm["queue_id"]
    parser = configparser.ConfigParser()
    parser.read(os.environ["DEADLINE_CONFIG_FILE_PATH"])
    assert parser.get(f"profile-{PROFILE} {farm['farm_id']} defaults", "queue_id") == farm["queue_id"]
