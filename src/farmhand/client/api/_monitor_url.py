"""Links into a monitor web app for a farm, queue, job, step or task: the Deadline Cloud monitor for AWS
profiles, the farm's own monitor (served by the farm at its URL) for profiles of a farmhand farm."""

from __future__ import annotations

import logging
from configparser import ConfigParser
from urllib.parse import quote, urlencode, urlsplit

from ._session import (
    get_boto3_client,
    get_boto3_session,
    get_credentials_source,
    get_session_client,
    resolve_region,
)

__all__ = ["build_monitor_url", "farm_monitor_base", "monitor_job_url", "monitor_url"]

# The hosts of AWS's own endpoints; any other deadline endpoint is a farmhand farm.
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")

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
    """`https://<subdomain>.<region>.deadlinecloud.amazonaws.com/<farm region>/farms/<farm>/queues/...`,
    or for a profile of a farmhand farm (and no `host`) `<farm URL>/farms/<farm>/queues/<queue>/jobs/...`
    (the subdomain and regions mean nothing there)."""
    for child, parent, child_name, parent_name in (
        (queue_id, farm_id, "queue_id", "farm_id"),
        (job_id, queue_id, "job_id", "queue_id"),
        (step_id, job_id, "step_id", "job_id"),
        (task_id, step_id, "task_id", "step_id"),
    ):
        if child and not parent:
            raise ValueError(f"A monitor URL with {child_name} needs {parent_name} too")
    farm_base = None if host else farm_monitor_base(config)
    if farm_base is not None:
        return _farm_monitor_url(farm_base, farm_id, queue_id, job_id, step_id, task_id)
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


def farm_monitor_base(config: ConfigParser | None = None) -> str | None:
    """The farm's URL when the profile points at a farmhand farm (whose monitor it serves), else None."""
    try:
        session = get_boto3_session(config=config)
        client = get_session_client(session, "deadline", session.region_name or "us-west-2")
        endpoint = client.meta.endpoint_url
    except Exception:
        log.debug("no deadline endpoint for the profile", exc_info=True)
        return None
    parts = urlsplit(str(endpoint or ""))
    host = (parts.hostname or "").lower()
    if not host or host.endswith(_AWS_HOST_SUFFIXES):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _farm_monitor_url(
    base: str,
    farm_id: str | None,
    queue_id: str | None,
    job_id: str | None,
    step_id: str | None,
    task_id: str | None,
) -> str:
    path = ""
    for segment, value in (
        ("farms", farm_id),
        ("queues", queue_id),
        ("jobs", job_id),
        ("steps", step_id),
    ):
        if not value:
            break
        path += f"/{segment}/{quote(value, safe='')}"
    url = f"{base}{path or '/'}"
    return f"{url}?{urlencode({'taskId': task_id})}" if task_id else url


def monitor_url(
    config: ConfigParser | None,
    farm_id: str,
    queue_id: str | None = None,
    job_id: str | None = None,
    step_id: str | None = None,
    task_id: str | None = None,
) -> str | None:
    """The monitor link for the profile: the farm's own monitor for a farmhand farm, the Deadline
    Cloud monitor for Deadline Cloud monitor profiles (best effort; None for other AWS profiles)."""
    from ._session import AwsCredentialsSource

    farm_base = farm_monitor_base(config)
    if farm_base is not None:
        return _farm_monitor_url(farm_base, farm_id, queue_id, job_id, step_id, task_id)
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
            step_id=step_id,
            task_id=task_id,
            monitor_region=session.region_name,
            config=config,
        )
    except Exception:
        log.debug("no monitor link", exc_info=True)
        return None


def monitor_job_url(farm_id: str, queue_id: str, job_id: str, config: ConfigParser | None) -> str | None:
    """The job's monitor link (see `monitor_url`)."""
    return monitor_url(config, farm_id, queue_id, job_id)
