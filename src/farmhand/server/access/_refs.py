"""The resources a request names, found in its members: ids, id lists, batch items, ARNs, log groups.

A `Ref` is one named resource with the ids of its ancestors, which is what access decisions need:
membership inherits farm → queue/fleet → job, and scoped credentials reach one queue or fleet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...arns import log_group_named, parse_arn

AUDIT_LOG_GROUP_PREFIX = "/farmhand/audit"
SESSION_LOG_GROUP_PREFIX = "/aws/deadline/"


@dataclass(frozen=True)
class Ref:
    """One resource a call names.

    kinds: account (nothing in particular), farm, queue, fleet, job, worker, association (a queue
    and a fleet), queue-logs / fleet-logs / audit-logs (a log group, maybe one stream), unknown.
    """

    kind: str
    farm: str | None = None
    queue: str | None = None
    fleet: str | None = None
    job: str | None = None
    worker: str | None = None
    stream: str | None = None

    def path(self) -> str:
        """A readable name for audit records and error messages."""
        if self.kind.endswith("-logs") or self.kind == "unknown":
            return f"{self.kind}:{self.stream or ''}" if self.kind == "unknown" else self._log_path()
        parts = [
            f"{name}/{value}"
            for name, value in (
                ("farm", self.farm),
                ("queue", self.queue),
                ("fleet", self.fleet),
                ("job", self.job),
                ("worker", self.worker),
            )
            if value
        ]
        return "/".join(parts) or "*"

    def _log_path(self) -> str:
        owner = self.queue or self.fleet or ""
        group = f"{SESSION_LOG_GROUP_PREFIX}{self.farm}/{owner}"
        if self.kind == "audit-logs":
            group = audit_log_group(self.farm)
        return f"log-group:{group}" + (f":log-stream:{self.stream}" if self.stream else "")


Target = Callable[[Mapping[str, Any]], list[Ref]]

ACCOUNT = Ref("account")


def nothing(params: Mapping[str, Any]) -> list[Ref]:
    """Calls that name no resource (CreateFarm, ListFarms): the account as a whole."""
    return [ACCOUNT]


def items_only(params: Mapping[str, Any]) -> list[Ref]:
    """Batch calls name their resources in their items alone (see `Rule.items`)."""
    return []


def farm(params: Mapping[str, Any]) -> list[Ref]:
    return [Ref("farm", farm=params.get("farmId"))]


def queue(params: Mapping[str, Any]) -> list[Ref]:
    return [Ref("queue", farm=params.get("farmId"), queue=params.get("queueId"))]


def fleet(params: Mapping[str, Any]) -> list[Ref]:
    return [Ref("fleet", farm=params.get("farmId"), fleet=params.get("fleetId"))]


def job(params: Mapping[str, Any]) -> list[Ref]:
    return [Ref("job", farm=params.get("farmId"), queue=params.get("queueId"), job=params.get("jobId"))]


def worker(params: Mapping[str, Any]) -> list[Ref]:
    return [
        Ref("worker", farm=params.get("farmId"), fleet=params.get("fleetId"), worker=params.get("workerId"))
    ]


def association(params: Mapping[str, Any]) -> list[Ref]:
    return [
        Ref(
            "association", farm=params.get("farmId"), queue=params.get("queueId"), fleet=params.get("fleetId")
        )
    ]


def queue_or_fleet(params: Mapping[str, Any]) -> list[Ref]:
    """ListQueueFleetAssociations: the queue or fleet it is narrowed to, else the farm."""
    if params.get("queueId") and params.get("fleetId"):
        return association(params)
    if params.get("queueId"):
        return queue(params)
    if params.get("fleetId"):
        return fleet(params)
    return farm(params)


def queues_listed(params: Mapping[str, Any]) -> list[Ref]:
    """SearchJobs/Steps/Tasks: every queue of `queueIds`."""
    return [Ref("queue", farm=params.get("farmId"), queue=q) for q in params.get("queueIds") or [None]]


def fleets_listed(params: Mapping[str, Any]) -> list[Ref]:
    """SearchWorkers: every fleet of `fleetIds`."""
    return [Ref("fleet", farm=params.get("farmId"), fleet=f) for f in params.get("fleetIds") or [None]]


def job_and_source(params: Mapping[str, Any]) -> list[Ref]:
    """CreateJob: the queue it goes to, and the job it copies (`sourceJobId`; its queue is looked up)."""
    refs = queue(params)
    if params.get("sourceJobId"):
        refs.append(Ref("job", farm=params.get("farmId"), job=params["sourceJobId"]))
    return refs


def worker_and_queue(params: Mapping[str, Any]) -> list[Ref]:
    """AssumeQueueRoleForWorker: the calling worker and the queue whose credentials it wants."""
    return [*worker(params), *queue(params)]


def by_arn(params: Mapping[str, Any]) -> list[Ref]:
    """Tags: `resourceArn` names a farm, queue, fleet or job (`farm/F[/queue/Q[/job/J]|/fleet/FL]`)."""
    return [ref_of_arn(str(params.get("resourceArn") or ""))]


def ref_of_arn(arn: str) -> Ref:
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "deadline":
        return Ref("unknown", stream=arn)
    segments = parsed.resource.split("/")
    ids = dict(zip(segments[::2], segments[1::2], strict=False))
    if len(segments) % 2 or "farm" not in ids or set(ids) - {"farm", "queue", "fleet", "job"}:
        return Ref("unknown", stream=arn)
    if "job" in ids:
        return Ref("job", farm=ids["farm"], queue=ids.get("queue"), job=ids["job"])
    if "queue" in ids:
        return Ref("queue", farm=ids["farm"], queue=ids["queue"])
    if "fleet" in ids:
        return Ref("fleet", farm=ids["farm"], fleet=ids["fleet"])
    return Ref("farm", farm=ids["farm"])


def log_group(params: Mapping[str, Any]) -> list[Ref]:
    """Logs calls: `logGroupName` or `logGroupIdentifier` (a name or an ARN), and `logStreamName`."""
    name = params.get("logGroupName") or params.get("logGroupIdentifier") or ""
    return [ref_of_log_group(log_group_named(str(name)), params.get("logStreamName"))]


def ref_of_log_group(name: str, stream: str | None = None) -> Ref:
    if name.startswith(SESSION_LOG_GROUP_PREFIX):
        parts = name[len(SESSION_LOG_GROUP_PREFIX) :].split("/")
        if len(parts) == 2 and parts[0].startswith("farm-"):
            farm_id, owner = parts
            if owner.startswith("queue-"):
                return Ref("queue-logs", farm=farm_id, queue=owner, stream=stream)
            if owner.startswith("fleet-"):
                return Ref("fleet-logs", farm=farm_id, fleet=owner, stream=stream)
    if name.startswith(AUDIT_LOG_GROUP_PREFIX + "/"):
        farm_id = name[len(AUDIT_LOG_GROUP_PREFIX) + 1 :]
        if farm_id.startswith("farm-") and "/" not in farm_id:
            return Ref("audit-logs", farm=farm_id, stream=stream)
    return Ref("unknown", stream=name)


def audit_log_group(farm_id: str | None) -> str:
    """Where a farm's audit records go; calls naming no farm go to the farm-less group (admin only)."""
    return f"{AUDIT_LOG_GROUP_PREFIX}/{farm_id}" if farm_id else AUDIT_LOG_GROUP_PREFIX


def ref_of_item(item: Mapping[str, Any], params: Mapping[str, Any]) -> Ref:
    """The resource a listed or batched item names, from its own ids (the request's for those it lacks).

    A union item (BatchGetJobEntity's `{"jobDetails": {"jobId": ...}}`) names what its one member names.
    """
    if len(item) == 1:
        (inner,) = item.values()
        if isinstance(inner, Mapping):
            item = inner
    if "logGroupName" in item:
        return ref_of_log_group(str(item["logGroupName"]))

    def pick(member: str) -> Any:
        return item.get(member) or params.get(member)

    farm_id = pick("farmId")
    if item.get("jobId"):
        return Ref("job", farm=farm_id, queue=pick("queueId"), job=item["jobId"])
    if item.get("queueId") and item.get("fleetId"):
        return Ref("association", farm=farm_id, queue=item["queueId"], fleet=item["fleetId"])
    if item.get("queueId"):
        return Ref("queue", farm=farm_id, queue=item["queueId"])
    if item.get("workerId"):
        return Ref("worker", farm=farm_id, fleet=pick("fleetId"), worker=item["workerId"])
    if item.get("fleetId"):
        return Ref("fleet", farm=farm_id, fleet=item["fleetId"])
    return Ref("farm", farm=farm_id)


def first_farm(refs: Sequence[Ref]) -> str | None:
    return next((r.farm for r in refs if r.farm), None)
