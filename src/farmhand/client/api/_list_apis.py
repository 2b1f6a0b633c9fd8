"""List and read helpers: every page of a Deadline list call, in the shapes `deadline.client.api` returns."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from configparser import ConfigParser
from typing import Any, TypeVar, cast

from botocore.exceptions import NoCredentialsError

from ..config import get_setting
from ..exceptions import DeadlineOperationError
from ._session import (
    AwsCredentialsSource,
    get_boto3_client,
    get_boto3_session,
    get_credentials_source,
    get_session_client,
    get_user_and_identity_store_id,
    resolve_region,
)
from ._telemetry import record_function_latency_telemetry_event

__all__ = [
    "DEFAULT_DEADLINE_REGIONS",
    "call_paginated_list_api",
    "get_job",
    "get_session",
    "list_farms",
    "list_fleets",
    "list_jobs",
    "list_queues",
    "list_sessions",
    "list_steps",
    "list_storage_profiles_for_queue",
    "list_tasks",
    "search_jobs",
]

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
)
_MAX_SEARCH_PAGE_SIZE = 100
_F = TypeVar("_F", bound=Callable[..., Any])
_MAX_SEARCH_ITEM_OFFSET = 10000


def call_paginated_list_api(list_api: Callable[..., Any], list_key: str, **kwargs: Any) -> dict[str, Any]:
    """Call a list operation until it has no `nextToken`; `{list_key: [every item]}`.

    A caller-supplied `nextToken` starts the walk from that page (it is replaced, not repeated).
    """
    items: list[Any] = []
    request = dict(kwargs)
    while True:
        response = list_api(**request)
        items.extend(response.get(list_key, []))
        token = response.get("nextToken")
        if not token:
            return {list_key: items}
        request["nextToken"] = token


def _add_principal_filter(config: ConfigParser | None, kwargs: dict[str, Any]) -> None:
    """Deadline Cloud monitor profiles list only what their user is a member of."""
    if "principalId" in kwargs:
        return
    user_id, _ = get_user_and_identity_store_id(config)
    if user_id:
        kwargs["principalId"] = user_id


def _regions_to_scan(config: ConfigParser | None) -> list[str | None]:
    """Regions for the farm fan-out; one (the session's) when every call goes to one endpoint."""
    configured = os.environ.get("DEADLINE_CLOUD_REGIONS") or get_setting("settings.deadline_regions", config)
    if configured.strip():
        names = [name.strip() for name in configured.split(",") if name.strip()]
        return list(dict.fromkeys(names))
    session = get_boto3_session(config=config)
    endpoint_overridden = bool(
        os.environ.get("AWS_ENDPOINT_URL_DEADLINE") or os.environ.get("AWS_ENDPOINT_URL")
    )
    if not endpoint_overridden:
        try:
            probe = get_session_client(session, "deadline", DEFAULT_DEADLINE_REGIONS[0])
            endpoint_overridden = "amazonaws.com" not in str(probe.meta.endpoint_url)
        except Exception:
            endpoint_overridden = False
    if endpoint_overridden:
        # A profile `[services]` override, env override or global endpoint: every region would
        # reach the same farm, so scanning them all would only list each farm ten times.
        return [resolve_region(config) or session.region_name]
    return list(DEFAULT_DEADLINE_REGIONS)


@record_function_latency_telemetry_event()
def list_farms(
    config: ConfigParser | None = None, region: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Every farm (all pages), each with a `region` key; without `region`, all configured regions."""
    _add_principal_filter(config, kwargs)
    session = get_boto3_session(config=config)
    if session.get_credentials() is None:
        raise NoCredentialsError()  # one cause, said once: not once per region scanned
    regions: list[str | None] = [region] if region else _regions_to_scan(config)
    clients = [(name, get_session_client(session, "deadline", name)) for name in regions]

    def farms_in(entry: tuple[str | None, Any]) -> list[dict[str, Any]]:
        name, client = entry
        farms = call_paginated_list_api(client.list_farms, "farms", **kwargs)["farms"]
        farm_region = name or client.meta.region_name
        return [{**farm, "region": farm_region} for farm in farms]

    if len(clients) == 1:
        return {"farms": farms_in(clients[0])}
    results: list[dict[str, Any]] = []
    failures: list[tuple[str | None, Exception]] = []
    with ThreadPoolExecutor(max_workers=min(len(clients), 10)) as pool:
        futures = [(entry[0], pool.submit(farms_in, entry)) for entry in clients]
        for name, future in futures:
            try:
                results.extend(future.result())
            except Exception as failure:
                failures.append((name, failure))
    if failures and len(failures) == len(clients):
        first = failures[0][1]
        if all(type(e) is type(first) and str(e) == str(first) for _, e in failures):
            raise first  # the same cause everywhere (no access, farm unreachable): said once
        raise DeadlineOperationError(
            f"Failed to list farms in all {len(clients)} region(s): "
            + "; ".join(f"{where}: {cause}" for where, cause in failures)
        )
    for where, cause in failures:
        log.warning("Could not list farms in %s: %s", where, cause)
    monitor_region = _monitor_region(config)
    if monitor_region:
        results = [f for f in results if not (f.get("kmsKeyArn") and f["region"] != monitor_region)]
    return {"farms": results}


def _monitor_region(config: ConfigParser | None) -> str | None:
    if get_credentials_source(config) != AwsCredentialsSource.DEADLINE_CLOUD_MONITOR_LOGIN:
        return None
    return get_boto3_session(config=config).region_name


@record_function_latency_telemetry_event()
def list_queues(
    config: ConfigParser | None = None, region: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Every queue of `farmId` (all pages)."""
    _add_principal_filter(config, kwargs)
    client = get_boto3_client("deadline", config, region)
    return call_paginated_list_api(client.list_queues, "queues", **kwargs)


@record_function_latency_telemetry_event()
def list_jobs(config: ConfigParser | None = None, region: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Every job of `farmId`/`queueId` (all pages)."""
    _add_principal_filter(config, kwargs)
    client = get_boto3_client("deadline", config, region)
    return call_paginated_list_api(client.list_jobs, "jobs", **kwargs)


@record_function_latency_telemetry_event()
def list_fleets(
    config: ConfigParser | None = None, region: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Every fleet of `farmId` (all pages)."""
    _add_principal_filter(config, kwargs)
    client = get_boto3_client("deadline", config, region)
    return call_paginated_list_api(client.list_fleets, "fleets", **kwargs)


@record_function_latency_telemetry_event()
def list_storage_profiles_for_queue(
    config: ConfigParser | None = None, region: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Every storage profile a queue allows (all pages)."""
    client = get_boto3_client("deadline", config, region)
    return call_paginated_list_api(client.list_storage_profiles_for_queue, "storageProfiles", **kwargs)


def _also_snake_case(function: _F) -> _F:
    """Accept `farm_id=`-style keywords too (this client's earlier spelling); the parameters themselves
    are named as in `deadline.client.api` (`farmId=`)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name in [n for n in kwargs if "_" in n]:
            head, *rest = name.split("_")
            camel = head + "".join(part.title() for part in rest)
            if camel in kwargs:
                raise TypeError(f"{function.__name__}() got both {camel!r} and {name!r}")
            kwargs[camel] = kwargs.pop(name)
        return function(*args, **kwargs)

    return cast(_F, wrapper)


def _farm_client(config: ConfigParser | None, farm_id: str, region: str | None = None) -> Any:
    return get_boto3_client("deadline", config, region or resolve_region(config, farm_id=farm_id))


def _page_size(max_results: int | None) -> dict[str, Any]:
    return {} if max_results is None else {"maxResults": max_results}


@_also_snake_case
@record_function_latency_telemetry_event()
def list_sessions(
    farmId: str,
    queueId: str,
    jobId: str,
    maxResults: int | None = None,
    config: ConfigParser | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Every session of a job (all pages); `region` is the farm's (default: the configured one)."""
    client = _farm_client(config, farmId, region)
    return call_paginated_list_api(
        client.list_sessions,
        "sessions",
        farmId=farmId,
        queueId=queueId,
        jobId=jobId,
        **_page_size(maxResults),
    )


@_also_snake_case
@record_function_latency_telemetry_event()
def list_steps(
    farmId: str,
    queueId: str,
    jobId: str,
    maxResults: int | None = None,
    config: ConfigParser | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Every step of a job (all pages)."""
    client = _farm_client(config, farmId, region)
    return call_paginated_list_api(
        client.list_steps, "steps", farmId=farmId, queueId=queueId, jobId=jobId, **_page_size(maxResults)
    )


@_also_snake_case
@record_function_latency_telemetry_event()
def list_tasks(
    farmId: str,
    queueId: str,
    jobId: str,
    stepId: str,
    maxResults: int | None = None,
    config: ConfigParser | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Every task of a step (all pages)."""
    client = _farm_client(config, farmId, region)
    return call_paginated_list_api(
        client.list_tasks,
        "tasks",
        farmId=farmId,
        queueId=queueId,
        jobId=jobId,
        stepId=stepId,
        **_page_size(maxResults),
    )


@_also_snake_case
@record_function_latency_telemetry_event()
def get_job(
    farmId: str, queueId: str, jobId: str, config: ConfigParser | None = None, region: str | None = None
) -> dict[str, Any]:
    """The raw GetJob response."""
    return dict(_farm_client(config, farmId, region).get_job(farmId=farmId, queueId=queueId, jobId=jobId))


@_also_snake_case
@record_function_latency_telemetry_event()
def get_session(
    farmId: str,
    queueId: str,
    jobId: str,
    sessionId: str,
    config: ConfigParser | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """The raw GetSession response."""
    client = _farm_client(config, farmId, region)
    return dict(client.get_session(farmId=farmId, queueId=queueId, jobId=jobId, sessionId=sessionId))


@_also_snake_case
@record_function_latency_telemetry_event()
def search_jobs(
    farmId: str | None = None,
    queueIds: list[str] | None = None,
    taskRunStatus: str | None = None,
    nameContains: str | None = None,
    pageSize: int = 25,
    itemOffset: int = 0,
    config: ConfigParser | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """One page of SearchJobs: `{"jobs", "totalResults", "nextItemOffset"}`; farm/queue from config."""
    farm_id = farmId or get_setting("defaults.farm_id", config)
    if not farm_id:
        raise ValueError("farmId is required (not found in config defaults)")
    queue_ids = queueIds
    if not queue_ids:
        default_queue = get_setting("defaults.queue_id", config)
        if not default_queue:
            raise ValueError("queueIds is required (not found in config defaults)")
        queue_ids = [default_queue]
    request: dict[str, Any] = {
        "farmId": farm_id,
        "queueIds": list(queue_ids),
        "pageSize": max(1, min(_MAX_SEARCH_PAGE_SIZE, pageSize)),
        "itemOffset": max(0, min(_MAX_SEARCH_ITEM_OFFSET, itemOffset)),
    }
    filters: list[dict[str, Any]] = []
    if taskRunStatus:
        filters.append(
            {"stringFilter": {"name": "TASK_RUN_STATUS", "operator": "EQUAL", "value": taskRunStatus}}
        )
    if nameContains:
        filters.append({"searchTermFilter": {"searchTerm": nameContains}})
    if filters:
        request["filterExpressions"] = {"filters": filters, "operator": "AND"}
    response = _farm_client(config, farm_id, region).search_jobs(**request)
    return {
        "jobs": response.get("jobs", []),
        "totalResults": response.get("totalResults", 0),
        "nextItemOffset": response.get("nextItemOffset"),
    }
