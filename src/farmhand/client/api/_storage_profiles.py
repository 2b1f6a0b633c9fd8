"""`get_storage_profile_for_queue`: a storage profile as a queue sees it (no unrequired SHARED places)."""

from __future__ import annotations

from configparser import ConfigParser
from typing import Any

from ...job_attachments import StorageProfile
from ._session import get_boto3_client
from ._telemetry import record_function_latency_telemetry_event

__all__ = ["get_storage_profile_for_queue"]


@record_function_latency_telemetry_event()
def get_storage_profile_for_queue(
    farm_id: str,
    queue_id: str,
    storage_profile_id: str,
    deadline: Any = None,
    config: ConfigParser | None = None,
) -> StorageProfile:
    if deadline is None:
        deadline = get_boto3_client("deadline", config)
    answer = deadline.get_storage_profile_for_queue(
        farmId=farm_id, queueId=queue_id, storageProfileId=storage_profile_id
    )
    return StorageProfile.from_api(answer)
