"""Links into the Deadline Cloud monitor web app for a farm, queue, job, step or task."""

from __future__ import annotations

import logging
from configparser import ConfigParser
from urllib.parse import urlencode

from ._session import get_boto3_client, get_boto3_session, get_credentials_source, resolve_region

__all__ = ["build_monitor_url", "monitor_job_url"]

log = logging.getLogger(__name__)


def build_monitor_url(
    subdomain: str,
    region: str | None = None,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    step_id: str | None = None,
    task_id: str | None = None,
    *,
    monitor_region: str | None = None,
    host: str | None = None,
    config: ConfigParser | None = None,
) -> str:
    """`https://<subdomain>.<region>.deadlinecloud.amazonaws.com/<farm region>/farms/<farm>/queues/...`."""
    for child, parent, child_name, parent_name in (
        (queue_id, farm_id, "queue_id", "farm_id"),
        (job_id, queue_id, "job_id", "queue_id"),
        (step_id, job_id, "step_id", "job_id"),
        (task_id, step_id, "task_id", "step_id"),
    ):
        if child and not parent:
            raise ValueError(f"A monitor URL with {child_name} needs {parent_name} too")
    monitor_region = monitor_region or region or get_boto3_session(config=config).region_name
    if not monitor_region:
        raise ValueError("A monitor URL needs a region (none given and none configured)")
    base = f"https://{host or f'{subdomain}.{monitor_region}.deadlinecloud.amazonaws.com'}"
    if not farm_id:
        return f"{base}/farms"
    farm_region = region or resolve_region(config, farm_id=farm_id) or monitor_region
    url = f"{base}/{farm_region}/farms/{farm_id}"
    if not queue_id:
        return url
    url += f"/queues/{queue_id}"
    query = {
        name: value for name, value in (("jobId", job_id), ("stepId", step_id), ("taskId", task_id)) if value
    }
    return f"{url}?{urlencode(query)}" if query else url


def monitor_job_url(farm_id: str, queue_id: str, job_id: str, config: ConfigParser | None) -> str | None:
    """The job's monitor link for Deadline Cloud monitor profiles (best effort; None otherwise)."""
    from ._session import AwsCredentialsSource

    if get_credentials_source(config) != AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN:
        return None
    try:
        session = get_boto3_session(config=config)
        monitor_id = session._session.get_scoped_config().get("monitor_id")
        subdomain = get_boto3_client("deadline", config, session.region_name).get_monitor(
            monitorId=monitor_id
        )["subdomain"]
        return build_monitor_url(
            subdomain,
            farm_id=farm_id,
            queue_id=queue_id,
            job_id=job_id,
            monitor_region=session.region_name,
            config=config,
        )
    except Exception:
        log.debug("no monitor link for the job", exc_info=True)
        return None
