"""The `deadline.client.api` interface: sessions, lists, queue roles, submission, waiting, logs, telemetry.

Every call is a plain boto3 call, so the same code works against AWS Deadline Cloud and a farmhand farm.
"""

from ..exceptions import (
    CreateJobWaiterCanceled,
    DeadlineOperationCanceled,
    DeadlineOperationError,
    DeadlineOperationTimedOut,
    MisconfiguredInputsError,
    UserInitiatedCancel,
)
from ._job_monitoring import (
    FailedTask,
    JobCompletionResult,
    wait_for_create_job_to_complete,
    wait_for_job_completion,
)
from ._list_apis import (
    get_job,
    get_session,
    list_farms,
    list_fleets,
    list_jobs,
    list_queues,
    list_sessions,
    list_steps,
    list_storage_profiles_for_queue,
    list_tasks,
    search_jobs,
)
from ._login import LoginCanceled, UnsupportedProfileTypeForLoginLogout, login, logout
from ._logs import LogEvent, SessionLogResult, WorkerLogResult, get_session_logs, get_worker_logs
from ._monitor_url import build_monitor_url
from ._queue_credentials import (
    assume_queue_role_for_read,
    assume_queue_role_for_user,
    get_queue_user_boto3_session,
    precache_clients,
)
from ._queue_parameters import get_queue_parameter_definitions
from ._session import (
    AwsAuthenticationStatus,
    AwsCredentialsSource,
    check_authentication_status,
    check_deadline_api_available,
    get_account_id,
    get_boto3_client,
    get_boto3_session,
    get_credentials_source,
    get_user_and_identity_store_id,
    session_context,
)
from ._storage_profiles import get_storage_profile_for_queue
from ._submit_job_bundle import ProgressReportMetadata, create_job_from_job_bundle
from ._submitter import BaseSubmitter, BaseSubmitterSettings, SubmissionContext, get_queue_parameters
from ._telemetry import (
    TelemetryClient,
    get_deadline_cloud_library_telemetry_client,
    get_telemetry_client,
    record_function_latency_telemetry_event,
    record_success_fail_telemetry_event,
)
from ._update_check import UpdateCheckResult, UpdateCheckStatus, safe_check_for_updates

__all__ = [
    "AwsAuthenticationStatus",
    "AwsCredentialsSource",
    "BaseSubmitter",
    "BaseSubmitterSettings",
    "CreateJobWaiterCanceled",
    "DeadlineOperationCanceled",
    "DeadlineOperationError",
    "DeadlineOperationTimedOut",
    "FailedTask",
    "JobCompletionResult",
    "LogEvent",
    "LoginCanceled",
    "MisconfiguredInputsError",
    "ProgressReportMetadata",
    "SessionLogResult",
    "SubmissionContext",
    "TelemetryClient",
    "UnsupportedProfileTypeForLoginLogout",
    "UpdateCheckResult",
    "UpdateCheckStatus",
    "UserInitiatedCancel",
    "WorkerLogResult",
    "assume_queue_role_for_read",
    "assume_queue_role_for_user",
    "build_monitor_url",
    "check_authentication_status",
    "check_deadline_api_available",
    "create_job_from_job_bundle",
    "get_account_id",
    "get_boto3_client",
    "get_boto3_session",
    "get_credentials_source",
    "get_deadline_cloud_library_telemetry_client",
    "get_job",
    "get_queue_parameter_definitions",
    "get_queue_parameters",
    "get_queue_user_boto3_session",
    "get_session",
    "get_session_logs",
    "get_storage_profile_for_queue",
    "get_telemetry_client",
    "get_user_and_identity_store_id",
    "get_worker_logs",
    "list_farms",
    "list_fleets",
    "list_jobs",
    "list_queues",
    "list_sessions",
    "list_steps",
    "list_storage_profiles_for_queue",
    "list_tasks",
    "login",
    "logout",
    "precache_clients",
    "record_function_latency_telemetry_event",
    "record_success_fail_telemetry_event",
    "safe_check_for_updates",
    "search_jobs",
    "session_context",
    "wait_for_create_job_to_complete",
    "wait_for_job_completion",
]
