"""The public interface of `farmhand.client.api`: the names and signatures scripts are written against."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from farmhand.client import api

_ = inspect.Parameter.empty
KW = "keyword-only"

# name -> [(parameter, default)]; parameters after a KW marker must be keyword-only.
INTERFACE: dict[str, list[Any]] = {
    "get_boto3_session": [("force_refresh", False), ("config", None)],
    "get_boto3_client": [("service_name", _), ("config", None)],
    "get_credentials_source": [("config", None)],
    "check_authentication_status": [("config", None)],
    "check_deadline_api_available": [("config", None)],
    "get_account_id": [("boto3_session", _)],
    "assume_queue_role_for_read": [("farmId", _), ("queueId", _), KW, ("config", None)],
    "assume_queue_role_for_user": [("farmId", _), ("queueId", _), KW, ("config", None)],
    "get_queue_user_boto3_session": [
        ("deadline", _),
        ("config", None),
        ("farm_id", None),
        ("queue_id", None),
        ("queue_display_name", None),
        ("force_refresh", False),
    ],
    "precache_clients": [
        ("deadline", None),
        ("config", None),
        ("farm_id", None),
        ("queue_id", None),
        ("queue_display_name", None),
    ],
    "list_farms": [("config", None)],
    "list_fleets": [("config", None)],
    "list_jobs": [("config", None)],
    "list_queues": [("config", None)],
    "list_storage_profiles_for_queue": [("config", None)],
    "list_sessions": [
        ("farm_id", _),
        ("queue_id", _),
        ("job_id", _),
        ("max_results", None),
        ("config", None),
    ],
    "list_steps": [("farm_id", _), ("queue_id", _), ("job_id", _), ("max_results", None), ("config", None)],
    "list_tasks": [
        ("farm_id", _),
        ("queue_id", _),
        ("job_id", _),
        ("step_id", _),
        ("max_results", None),
        ("config", None),
    ],
    "get_job": [("farm_id", _), ("queue_id", _), ("job_id", _), ("config", None)],
    "get_session": [("farm_id", _), ("queue_id", _), ("job_id", _), ("session_id", _), ("config", None)],
    "search_jobs": [
        ("farm_id", None),
        ("queue_ids", None),
        ("task_run_status", None),
        ("name_contains", None),
        ("page_size", 25),
        ("item_offset", 0),
        ("config", None),
    ],
    "get_queue_parameter_definitions": [KW, ("farmId", _), ("queueId", _), ("config", None)],
    "get_session_logs": [
        ("farm_id", _),
        ("queue_id", _),
        ("session_id", None),
        ("job_id", None),
        ("limit", 100),
        ("start_time", None),
        ("end_time", None),
        ("next_token", None),
        ("config", None),
    ],
    "get_worker_logs": [
        ("farm_id", _),
        ("fleet_id", _),
        ("worker_id", _),
        ("limit", 100),
        ("start_time", None),
        ("end_time", None),
        ("next_token", None),
        ("config", None),
    ],
    "wait_for_create_job_to_complete": [
        ("farm_id", _),
        ("queue_id", _),
        ("job_id", _),
        ("deadline_client", _),
        ("continue_callback", _),
    ],
    "wait_for_job_completion": [
        ("farm_id", _),
        ("queue_id", _),
        ("job_id", _),
        ("max_poll_interval", 120),
        ("timeout", 0),
        ("config", None),
        ("status_callback", None),
        ("job_callback", None),
    ],
    "create_job_from_job_bundle": [
        ("job_bundle_dir", _),
        ("job_parameters", []),
        KW,
        ("name", None),
        ("queue_parameter_definitions", None),
        ("job_attachments_file_system", None),
        ("config", None),
        ("priority", None),
        ("max_failed_tasks_count", None),
        ("max_retries_per_task", None),
        ("max_worker_count", None),
        ("target_task_run_status", None),
        ("require_paths_exist", False),
        ("submitter_name", None),
        ("submitter_version", None),
        ("known_asset_paths", []),
        ("debug_snapshot_dir", None),
        ("from_gui", False),
        ("print_function_callback", print),
        ("interactive_confirmation_callback", None),
        ("hashing_progress_callback", None),
        ("upload_progress_callback", None),
        ("create_job_result_callback", None),
        ("force_s3_check", None),
    ],
    "get_telemetry_client": [("package_name", _), ("package_ver", _), ("config", None)],
    "get_deadline_cloud_library_telemetry_client": [("config", None)],
}


@pytest.mark.parametrize("name", sorted(INTERFACE))
def test_signature(name: str) -> None:
    # Given the documented parameters, in order, with their defaults
    parameters = list(inspect.signature(getattr(api, name)).parameters.values())
    keyword_only = False
    position = 0
    for entry in INTERFACE[name]:
        if entry == KW:
            keyword_only = True
            continue
        parameter_name, default = entry
        # Then each one is there, in place, with the same default and kind
        parameter = parameters[position]
        assert (parameter.name, parameter.default) == (parameter_name, default)
        assert (parameter.kind == inspect.Parameter.KEYWORD_ONLY) == keyword_only
        position += 1
    # And anything beyond them is optional
    assert all(p.default is not _ or p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters[position:])


def test_every_documented_name_is_exported() -> None:
    expected = {
        *INTERFACE,
        "AwsAuthenticationStatus",
        "AwsCredentialsSource",
        "FailedTask",
        "JobCompletionResult",
        "LogEvent",
        "SessionLogResult",
        "WorkerLogResult",
        "TelemetryClient",
        "record_function_latency_telemetry_event",
        "record_success_fail_telemetry_event",
    }
    assert expected <= set(api.__all__)
    assert {s.name for s in api.AwsAuthenticationStatus} >= {
        "AUTHENTICATED",
        "NEEDS_LOGIN",
        "CONFIGURATION_ERROR",
    }
    assert {s.name for s in api.AwsCredentialsSource} >= {"HOST_PROVIDED", "DEADLINE_CLOUD_MONITOR_LOGIN"}


def test_importing_the_client_package_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, farmhand.client, farmhand.client.config\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'openjd', 'yaml') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert loaded.strip() == "[]"
