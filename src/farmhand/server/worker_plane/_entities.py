"""BatchGetJobEntity: what a worker needs to run a session's actions (spec §5.5).

- jobDetails: the queue's `jobRunAsUser` (default: run as the worker agent's user), the session log
  group, `jobtemplate-2023-09`, every resolved parameter, the queue's job attachment settings, a
  `queueRoleArn` when the queue has a role or job attachments (AssumeQueueRoleForWorker then answers
  with credentials), path-mapping rules (see `_path_mapping`), the job's extensions;
- stepDetails: the step object of the template, its upstream step ids;
- environmentDetails: a queue/job environment (`JOB:<jobId>:<id>`) or a step environment
  (`STEP:<stepId>:<name>`);
- jobAttachmentDetails: the attachments as submitted.
Anything missing is a per-entity error, never a failed call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, select

from ...arns import arn
from .._path_mapping import path_mapping_rules
from ..store import find_document, jobs, step_dependencies, steps
from ._logs import session_log_group

JOB_SCHEMA = "jobtemplate-2023-09"


class JobEntityError(Exception):
    """An entity BatchGetJobEntity cannot give: answered in its `errors` with the service's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _doc(conn: Connection, kind: str, resource_id: str | None) -> dict[str, Any] | None:
    return find_document(conn, kind, resource_id) if resource_id else None


def queue_role_arn(queue: Mapping[str, Any], account_id: str) -> str | None:
    """The role a queue's jobs run with: its `roleArn`, or a farm-issued one when it has job attachments."""
    if queue.get("roleArn"):
        return str(queue["roleArn"])
    if queue.get("jobAttachmentSettings"):
        return arn("iam", f"role/farmhand-queue-{queue['queueId']}", account=account_id)
    return None


def run_as_user(queue: Mapping[str, Any]) -> dict[str, Any]:
    run_as = queue.get("jobRunAsUser") or {}
    if run_as.get("runAs") == "QUEUE_CONFIGURED_USER":
        return {k: v for k, v in run_as.items() if k in ("runAs", "posix", "windows")}
    return {"runAs": "WORKER_AGENT_USER"}


def _path_mapping_rules(
    conn: Connection, job: Any, queue: Mapping[str, Any], fleet: Mapping[str, Any] | None
) -> list[dict[str, str]]:
    fleet_profile_id = (
        ((fleet or {}).get("configuration") or {}).get("customerManaged", {}).get("storageProfileId")
    )
    return path_mapping_rules(
        _doc(conn, "storage-profile", job.storage_profile_id),
        _doc(conn, "storage-profile", fleet_profile_id),
        list(queue.get("requiredFileSystemLocationNames") or []),
        list((job.attachments or {}).get("manifests") or []),
    )


def _job(conn: Connection, farm_id: str, job_id: str) -> Any:
    row = conn.execute(select(jobs).where(and_(jobs.c.job_id == job_id, jobs.c.farm_id == farm_id))).first()
    if row is None:
        raise JobEntityError("ResourceNotFoundException", f"Job {job_id} not found")
    return row


def job_details(
    conn: Connection, farm_id: str, fleet_id: str, job_id: str, account_id: str
) -> dict[str, Any]:
    job = _job(conn, farm_id, job_id)
    queue = _doc(conn, "queue", job.queue_id) or {"queueId": job.queue_id}
    details: dict[str, Any] = {
        "jobId": job.job_id,
        "jobRunAsUser": run_as_user(queue),
        "logGroupName": session_log_group(job.farm_id, job.queue_id),
        "schemaVersion": JOB_SCHEMA,
        "parameters": dict(job.resolved_parameters or {}),
        "extensions": list(job.extensions or []),
        "pathMappingRules": _path_mapping_rules(conn, job, queue, _doc(conn, "fleet", fleet_id)),
    }
    if queue.get("jobAttachmentSettings"):
        settings = queue["jobAttachmentSettings"]
        details["jobAttachmentSettings"] = {
            "s3BucketName": settings["s3BucketName"],
            "rootPrefix": settings["rootPrefix"],
        }
    role = queue_role_arn(queue, account_id)
    if role:
        details["queueRoleArn"] = role
    return details


def step_details(conn: Connection, farm_id: str, job_id: str, step_id: str) -> dict[str, Any]:
    job = _job(conn, farm_id, job_id)
    step = conn.execute(
        select(steps).where(and_(steps.c.step_id == step_id, steps.c.job_id == job_id))
    ).first()
    if step is None:
        raise JobEntityError("ResourceNotFoundException", f"Step {step_id} not found in job {job_id}")
    upstream = [
        r.depends_on_step_id
        for r in conn.execute(
            select(step_dependencies.c.depends_on_step_id).where(step_dependencies.c.step_id == step_id)
        )
    ]
    details = {
        "jobId": job_id,
        "stepId": step_id,
        "schemaVersion": JOB_SCHEMA,
        "template": dict(step.template),
        "dependencies": upstream,
        "extensions": list(job.extensions or []),
    }
    return _with_symbols(details, step.resolved_symbol_table)


def _with_symbols(details: dict[str, Any], symbol_table: str | None) -> dict[str, Any]:
    """Add openjd's resolved symbol table (EXPR templates' `let` bindings) when the job has one."""
    if symbol_table:
        details["resolvedSymbolTable"] = symbol_table
    return details


def environment_details(conn: Connection, farm_id: str, job_id: str, environment_id: str) -> dict[str, Any]:
    job = _job(conn, farm_id, job_id)
    extensions = list(job.extensions or [])
    if environment_id.startswith("STEP:"):
        _, step_id, name = environment_id.split(":", 2)
        step = conn.execute(
            select(steps.c.template, steps.c.resolved_symbol_table).where(
                and_(steps.c.step_id == step_id, steps.c.job_id == job_id)
            )
        ).first()
        for env in ((step.template if step else None) or {}).get("stepEnvironments") or []:
            if env.get("name") == name:
                details = {
                    "jobId": job_id,
                    "environmentId": environment_id,
                    "schemaVersion": JOB_SCHEMA,
                    "template": dict(env),
                    "extensions": extensions,
                }
                return _with_symbols(details, step.resolved_symbol_table if step else None)
    else:
        for env in job.environments or []:
            if env.get("environmentId") == environment_id:
                details = {
                    "jobId": job_id,
                    "environmentId": environment_id,
                    "schemaVersion": env.get("schemaVersion") or JOB_SCHEMA,
                    "template": dict(env["template"]),
                    "extensions": extensions,
                }
                return _with_symbols(details, job.resolved_symbol_table)
    raise JobEntityError(
        "ResourceNotFoundException", f"Environment {environment_id} not found in job {job_id}"
    )


def attachment_details(conn: Connection, farm_id: str, job_id: str) -> dict[str, Any]:
    job = _job(conn, farm_id, job_id)
    if not job.attachments:
        raise JobEntityError("ResourceNotFoundException", f"Job {job_id} has no job attachments")
    return {"jobId": job_id, "attachments": dict(job.attachments)}


def get_job_entities(
    conn: Connection, farm_id: str, fleet_id: str, identifiers: list[dict[str, Any]], account_id: str
) -> dict[str, Any]:
    entities: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for identifier in identifiers:
        kind, ids = next(iter(identifier.items()))
        try:
            if kind == "jobDetails":
                entity = job_details(conn, farm_id, fleet_id, ids["jobId"], account_id)
            elif kind == "stepDetails":
                entity = step_details(conn, farm_id, ids["jobId"], ids["stepId"])
            elif kind == "environmentDetails":
                entity = environment_details(conn, farm_id, ids["jobId"], ids["environmentId"])
            elif kind == "jobAttachmentDetails":
                entity = attachment_details(conn, farm_id, ids["jobId"])
            else:
                raise JobEntityError("ValidationException", f"Unknown entity kind {kind}")
            entities.append({kind: entity})
        except JobEntityError as error:
            errors.append({kind: {**ids, "code": error.code, "message": error.message}})
    return {"entities": entities, "errors": errors}
