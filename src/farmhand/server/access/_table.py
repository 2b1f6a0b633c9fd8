"""THE access table: every operation of the Deadline Cloud API, CloudWatch Logs and STS, and what it needs.

Read a line as: the resources the call names (`target`), the membership level a farm user needs on
each of them (as Deadline Cloud's user-access policies grant them: VIEWER reads, CONTRIBUTOR also
submits and takes queue-user credentials, MANAGER also changes jobs and manages members below
OWNER, OWNER everything of its resource), and which scoped credentials may make the call, on their
own queue, fleet or worker only. Farm structure (farms, queues, fleets, associations, environments,
storage profiles, workers' registration, tags) is the admin's, except that a queue's OWNER starts and
stops its scheduling. Operations of the models that no
line names are the admin's alone (see `rule_for`).
"""

from __future__ import annotations

from ..._models import IDENTITY_SERVICE, SCHEDULING_SERVICE
from ._refs import (
    Target,
    association,
    by_arn,
    farm,
    fleet,
    fleets_listed,
    items_only,
    job,
    job_and_source,
    log_group,
    nothing,
    queue,
    queue_or_fleet,
    queues_listed,
    worker,
    worker_and_queue,
)
from ._rules import ADMIN_ONLY, Audit, QueueUse, Rule, WorkerUse

VIEWER, CONTRIBUTOR, MANAGER, OWNER = "VIEWER", "CONTRIBUTOR", "MANAGER", "OWNER"
READ, SUBMIT = QueueUse.READ, QueueUse.SUBMIT


def admin(target: Target = nothing) -> Rule:
    return Rule(target=target)


def job_read() -> Rule:
    """Reading a job and what it is made of (steps, tasks, sessions, their actions)."""
    return Rule(job, VIEWER, queue=READ)


def batch_read(member: str = "identifiers") -> Rule:
    return Rule(items_only, VIEWER, queue=READ, items=member)


def members(target: Target, *, change: bool) -> Rule:
    return Rule(target, MANAGER, grants=change)


DEADLINE: dict[str, Rule] = {
    # --- memberships -------------------------------------------------------------------------------
    "AssociateMemberToFarm": members(farm, change=True),
    "AssociateMemberToQueue": members(queue, change=True),
    "AssociateMemberToFleet": members(fleet, change=True),
    "AssociateMemberToJob": members(job, change=True),
    "DisassociateMemberFromFarm": members(farm, change=True),
    "DisassociateMemberFromQueue": members(queue, change=True),
    "DisassociateMemberFromFleet": members(fleet, change=True),
    "DisassociateMemberFromJob": members(job, change=True),
    "ListFarmMembers": members(farm, change=False),
    "ListQueueMembers": members(queue, change=False),
    "ListFleetMembers": members(fleet, change=False),
    "ListJobMembers": members(job, change=False),
    "ListMemberships": ADMIN_ONLY,
    # --- credentials -------------------------------------------------------------------------------
    "AssumeQueueRoleForUser": Rule(queue, CONTRIBUTOR),
    "AssumeQueueRoleForRead": Rule(queue, VIEWER),
    "AssumeFleetRoleForRead": Rule(fleet, VIEWER),
    "AssumeFleetRoleForWorker": Rule(worker, worker=WorkerUse.OWN),
    "AssumeQueueRoleForWorker": Rule(worker_and_queue, worker=WorkerUse.SESSIONS),
    # --- farms ---------------------------------------------------------------------------------------
    "CreateFarm": admin(),
    "GetFarm": Rule(farm, VIEWER),
    "ListFarms": Rule(nothing, VIEWER, lists="farms", principal_filter=True),
    "UpdateFarm": admin(farm),
    "DeleteFarm": admin(farm),
    # --- queues and their environments ---------------------------------------------------------------
    "CreateQueue": admin(farm),
    "GetQueue": Rule(queue, VIEWER, queue=READ),
    "ListQueues": Rule(farm, VIEWER, lists="queues", principal_filter=True),
    "UpdateQueue": admin(queue),
    "DeleteQueue": admin(queue),
    "CreateQueueEnvironment": admin(queue),
    "GetQueueEnvironment": Rule(queue, VIEWER, queue=READ),
    "ListQueueEnvironments": Rule(queue, VIEWER, queue=READ),
    "UpdateQueueEnvironment": admin(queue),
    "DeleteQueueEnvironment": admin(queue),
    # --- fleets and queue-fleet associations ---------------------------------------------------------
    "CreateFleet": admin(farm),
    "GetFleet": Rule(fleet, VIEWER, fleet_read=True),
    "ListFleets": Rule(farm, VIEWER, lists="fleets", principal_filter=True),
    "UpdateFleet": admin(fleet),
    "DeleteFleet": admin(fleet),
    "CreateQueueFleetAssociation": admin(association),
    "GetQueueFleetAssociation": Rule(association, VIEWER, queue=READ, fleet_read=True),
    "ListQueueFleetAssociations": Rule(
        queue_or_fleet, VIEWER, queue=READ, fleet_read=True, lists="queueFleetAssociations"
    ),
    # Starting and stopping a queue's scheduling on a fleet (the association's only change): its
    # owners may, as they run the queue; creating or removing associations stays the admin's.
    "UpdateQueueFleetAssociation": Rule(association, OWNER),
    "DeleteQueueFleetAssociation": admin(association),
    # --- storage profiles ----------------------------------------------------------------------------
    "CreateStorageProfile": admin(farm),
    "GetStorageProfile": Rule(farm, VIEWER),
    "ListStorageProfiles": Rule(farm, VIEWER),
    "UpdateStorageProfile": admin(farm),
    "DeleteStorageProfile": admin(farm),
    "GetStorageProfileForQueue": Rule(queue, VIEWER, queue=READ),
    "ListStorageProfilesForQueue": Rule(queue, VIEWER, queue=READ),
    # --- jobs and what they are made of --------------------------------------------------------------
    "CreateJob": Rule(job_and_source, CONTRIBUTOR, queue=SUBMIT),
    "GetJob": job_read(),
    "ListJobs": Rule(queue, VIEWER, queue=READ, lists="jobs", principal_filter=True),
    "UpdateJob": Rule(job, MANAGER),
    "BatchGetJob": batch_read(),
    "BatchUpdateJob": Rule(items_only, MANAGER, items="jobs"),
    # Writes into the farm's stores: queue credentials only inside their prefix (the handler checks
    # the key against their scope), users through their queue-user credentials.
    "CopyJobTemplate": Rule(job, queue=SUBMIT),
    "ListJobParameterDefinitions": job_read(),
    "GetStep": job_read(),
    "ListSteps": job_read(),
    "ListStepConsumers": job_read(),
    "ListStepDependencies": job_read(),
    "BatchGetStep": batch_read(),
    "UpdateStep": Rule(job, MANAGER),
    "GetTask": job_read(),
    "ListTasks": job_read(),
    "BatchGetTask": batch_read(),
    "UpdateTask": Rule(job, MANAGER),
    "BatchUpdateTask": Rule(items_only, MANAGER, items="tasks"),
    "GetSession": job_read(),
    "ListSessions": job_read(),
    "BatchGetSession": batch_read(),
    "UpdateSession": Rule(job, MANAGER),
    "GetSessionAction": job_read(),
    "ListSessionActions": job_read(),
    "BatchGetSessionAction": batch_read(),
    "SearchJobs": Rule(queues_listed, VIEWER, queue=READ),
    "SearchSteps": Rule(queues_listed, VIEWER, queue=READ),
    "SearchTasks": Rule(queues_listed, VIEWER, queue=READ),
    # --- workers: registration is the admin's, the worker plane the worker's own ----------------------
    "CreateWorker": admin(fleet),
    "GetWorker": Rule(worker, VIEWER, fleet_read=True, worker=WorkerUse.OWN),
    "ListWorkers": Rule(fleet, VIEWER, fleet_read=True),
    "BatchGetWorker": Rule(items_only, VIEWER, fleet_read=True, items="identifiers"),
    "SearchWorkers": Rule(fleets_listed, VIEWER, fleet_read=True),
    "ListSessionsForWorker": Rule(worker, VIEWER, fleet_read=True, worker=WorkerUse.OWN),
    "UpdateWorker": Rule(worker, worker=WorkerUse.OWN, audit=Audit.CHANGES),
    "DeleteWorker": Rule(worker, worker=WorkerUse.OWN),
    "UpdateWorkerSchedule": Rule(worker, worker=WorkerUse.OWN, audit=Audit.CHANGES),
    # Each identifier names a job: one of the worker's open sessions' (others are answered in `errors`).
    "BatchGetJobEntity": Rule(worker, worker=WorkerUse.SESSIONS, items="identifiers"),
    # --- tags ----------------------------------------------------------------------------------------
    "ListTagsForResource": Rule(by_arn, VIEWER),
    "TagResource": admin(by_arn),
    "UntagResource": admin(by_arn),
    # --- budgets and usage: OWNER ------------------------------------------------------------------------
    "CreateBudget": Rule(farm, OWNER),
    "GetBudget": Rule(farm, OWNER),
    "ListBudgets": Rule(farm, OWNER),
    "UpdateBudget": Rule(farm, OWNER),
    "DeleteBudget": Rule(farm, OWNER),
    "GetSessionsStatisticsAggregation": Rule(farm, OWNER),
    "StartSessionsStatisticsAggregation": Rule(farm, OWNER),
    # --- the rest of the service: the admin's -----------------------------------------------------------
    "CreateLicenseEndpoint": ADMIN_ONLY,
    "GetLicenseEndpoint": ADMIN_ONLY,
    "ListLicenseEndpoints": ADMIN_ONLY,
    "DeleteLicenseEndpoint": ADMIN_ONLY,
    "ListAvailableMeteredProducts": ADMIN_ONLY,
    "ListMeteredProducts": ADMIN_ONLY,
    "PutMeteredProduct": ADMIN_ONLY,
    "DeleteMeteredProduct": ADMIN_ONLY,
    "CreateLimit": admin(farm),
    "GetLimit": admin(farm),
    "ListLimits": admin(farm),
    "UpdateLimit": admin(farm),
    "DeleteLimit": admin(farm),
    "CreateQueueLimitAssociation": admin(queue),
    "GetQueueLimitAssociation": admin(queue),
    "ListQueueLimitAssociations": admin(farm),
    "UpdateQueueLimitAssociation": admin(queue),
    "DeleteQueueLimitAssociation": admin(queue),
    "CreateMonitor": ADMIN_ONLY,
    "GetMonitor": ADMIN_ONLY,
    "ListMonitors": ADMIN_ONLY,
    "UpdateMonitor": ADMIN_ONLY,
    "DeleteMonitor": ADMIN_ONLY,
    "GetMonitorSettings": ADMIN_ONLY,
    "UpdateMonitorSettings": ADMIN_ONLY,
    "GetVolume": ADMIN_ONLY,
    "ListVolumes": ADMIN_ONLY,
    "DeleteVolume": ADMIN_ONLY,
}

LOG_READ = Rule(log_group, VIEWER, queue=READ, fleet_read=True)

LOGS: dict[str, Rule] = {
    # Session logs are their queue's (`/aws/deadline/<farm>/<queue>`, a stream per session), worker
    # logs their fleet's (`/aws/deadline/<farm>/<fleet>`, a stream per worker), the audit trail the
    # farm owners' (`/farmhand/audit/<farm>`). Only workers write, each into its own streams.
    "GetLogEvents": LOG_READ,
    "FilterLogEvents": LOG_READ,
    "DescribeLogStreams": LOG_READ,
    "DescribeLogGroups": Rule(nothing, VIEWER, queue=READ, fleet_read=True, lists="logGroups"),
    "PutLogEvents": Rule(log_group, worker=WorkerUse.LOGS, audit=Audit.NEVER),
    "CreateLogStream": Rule(log_group, worker=WorkerUse.LOGS),
    "CreateLogGroup": admin(log_group),
    "DeleteLogGroup": admin(log_group),
    "DeleteLogStream": admin(log_group),
    "PutRetentionPolicy": admin(log_group),
    "DeleteRetentionPolicy": admin(log_group),
}

STS: dict[str, Rule] = {
    "GetCallerIdentity": Rule(anyone=True),
}

# The farm's object store (`object_store.S3Action`): the admin manages buckets; queue credentials
# reach their queue's job-attachment prefix (see `_objects`). Object writes are content, like log
# lines: not in the audit trail.
S3: dict[str, Rule] = {
    "list-buckets": ADMIN_ONLY,
    "create-bucket": ADMIN_ONLY,
    "delete-bucket": ADMIN_ONLY,
    "head-bucket": Rule(queue=READ, audit=Audit.NEVER),
    "list": Rule(queue=READ, audit=Audit.NEVER),
    "read": Rule(queue=READ, audit=Audit.NEVER),
    "write": Rule(queue=SUBMIT, audit=Audit.NEVER),
}

# The farm's users and groups (`farmhand-identity`): the admin's to manage. Its sign-in calls are
# unsigned (they are how a user gets credentials) and never reach this table.
IDENTITY: dict[str, Rule] = {
    name: ADMIN_ONLY
    for name in (
        "GetIdentityStore",
        "CreateUser",
        "GetUser",
        "ListUsers",
        "UpdateUser",
        "SetUserPassword",
        "DeleteUser",
        "CreateGroup",
        "ListGroups",
        "DeleteGroup",
        "AddGroupMember",
        "RemoveGroupMember",
        "ListGroupMembers",
    )
}

# What the scheduler tells about a job is read like the job itself.
SCHEDULING: dict[str, Rule] = {"ExplainJob": job_read()}

TABLE: dict[str, dict[str, Rule]] = {
    "deadline": DEADLINE,
    "logs": LOGS,
    "sts": STS,
    "s3": S3,
    IDENTITY_SERVICE: IDENTITY,
    SCHEDULING_SERVICE: SCHEDULING,
}


def rule_for(service: str, operation: str) -> Rule:
    """The operation's line; any operation of a model that the table does not name is the admin's."""
    return TABLE.get(service, {}).get(operation, ADMIN_ONLY)
