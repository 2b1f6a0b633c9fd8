"""Jobs: CreateJob from an OpenJD template, reads, updates, template copies and parameter definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from .._ids import new_id
from .._shape_rows import columns_from_request
from ..access import CallerKind, caller_of, object_allowed, put_membership, rule_for
from ..buckets import BucketStoreError, NoStoreError
from ..identity_store import identity_store_id
from ..jobs import (
    INLINE_TASK_LIMIT,
    JobPlan,
    check_attachments,
    check_max_worker_count,
    finish_creation,
    insert_job_rows,
    job_details,
    job_summary,
    load_document,
    plan_job,
    require_job,
    update_job,
    with_ids,
    write_tasks_inline,
)
from ..protocol import (
    AccessDeniedError,
    InternalServerError,
    ResourceNotFoundError,
    ServiceError,
    ValidationError,
)
from ..store import find_document, jobs
from ._common import decode_token, encode_token, get_resource, jsonable, page, save_tags
from ._registry import Call, Output, Params, operation
from .queue_environments import ordered_environments

if TYPE_CHECKING:
    from .._runtime import ServerRuntime


def job_arn(call: Call, farm_id: str, queue_id: str, job_id: str) -> str:
    return call.arn(f"farm/{farm_id}/queue/{queue_id}/job/{job_id}")


@operation("CreateJob")
def create_job(call: Call, params: Params) -> Output:
    farm_id, queue_id = params["farmId"], params["queueId"]
    queue = get_resource(call.conn, "queue", queue_id, farm_id=farm_id, resource_type="queue")
    storage_profile_id = params.get("storageProfileId")
    if storage_profile_id and storage_profile_id not in (queue.get("allowedStorageProfileIds") or []):
        raise ValidationError.for_field(
            "storageProfileId", f"{storage_profile_id} is not one of the queue's allowed storage profiles"
        )
    if params.get("attachments"):
        profile = (
            find_document(call.conn, "storage-profile", storage_profile_id) if storage_profile_id else None
        )
        check_attachments(params["attachments"], queue, profile, call.runtime.buckets)
    template, template_type = params.get("template"), params.get("templateType")
    parameters: dict[str, Any] = dict(params.get("parameters") or {})
    source_job_id = params.get("sourceJobId")
    if source_job_id:
        source = call.conn.execute(
            select(jobs).where(and_(jobs.c.job_id == source_job_id, jobs.c.farm_id == farm_id))
        ).first()
        if source is None:
            raise ResourceNotFoundError("job", source_job_id)
        if template is None:
            template, template_type = source.template, source.template_type
        parameters = {**(source.parameters or {}), **parameters}
    if not template:
        raise ValidationError.for_field("template", "is required unless sourceJobId names a job to copy")
    if not template_type:
        raise ValidationError.for_field("templateType", "is required with template")
    check_max_worker_count(params.get("maxWorkerCount"))
    target = params.get("targetTaskRunStatus", "READY")
    if target not in ("READY", "SUSPENDED"):
        raise ValidationError.for_field("targetTaskRunStatus", "must be READY or SUSPENDED")

    job_id = new_id("job")
    plan, _ = plan_job(
        job_id=job_id,
        template_text=template,
        template_type=template_type,
        parameters=parameters,
        queue_environments=[entry.doc for entry in ordered_environments(call.conn, queue_id)],
        new_step_id=lambda: new_id("step"),
        name_override=params.get("nameOverride"),
        description_override=params.get("descriptionOverride"),
        suspended=target == "SUSPENDED",
        max_tasks=call.runtime.config.max_tasks_per_job,
    )
    fields = {
        **columns_from_request("CreateJobRequest", params, jobs),
        "source_job_id": source_job_id,
        "template": template,
        "template_type": template_type,
        "parameters": parameters or None,
        "attachments": jsonable(params["attachments"]) if params.get("attachments") else None,
        "created_by_id": call.principal.principal_id,
    }
    insert_job_rows(
        call.conn,
        plan,
        job_id=job_id,
        farm_id=farm_id,
        queue_id=queue_id,
        now=call.now,
        by=call.principal.arn,
        fields=fields,
    )
    save_tags(call, job_arn(call, farm_id, queue_id, job_id), params.get("tags"))
    _make_submitter_owner(call, farm_id, queue_id, job_id)
    if plan.task_count <= INLINE_TASK_LIMIT:
        write_tasks_inline(call.conn, plan, job_id=job_id, farm_id=farm_id, queue_id=queue_id, now=call.now)
    else:
        runtime = call.runtime
        call.after_commit.append(
            lambda: runtime.run_in_background(lambda: _finish_creation_and_wake(runtime, job_id, plan))
        )
    return {"jobId": job_id}


def _finish_creation_and_wake(runtime: ServerRuntime, job_id: str, plan: JobPlan) -> None:
    """Write a large job's tasks after the answer; its tasks can be scheduled only once the job is
    CREATE_COMPLETE, so that is when idle workers must be woken (CreateJob's own wake came too early)."""
    if finish_creation(runtime.store, job_id, plan) == "CREATE_COMPLETE":
        runtime.work_signal.notify()


def _make_submitter_owner(call: Call, farm_id: str, queue_id: str, job_id: str) -> None:
    """A farm user who submits a job is its OWNER (a job membership, as a farm's creator is the
    farm's): a CONTRIBUTOR may then cancel, requeue or change the jobs it submitted, and only those."""
    principal = call.principal
    caller = caller_of(principal.principal_id, principal.arn, principal.kind, principal.scope)
    if caller.kind is not CallerKind.USER:
        return
    put_membership(
        call.conn,
        kind="job",
        resource_id=job_id,
        farm_id=farm_id,
        queue_id=queue_id,
        principal_id=principal.principal_id,
        principal_type="USER",
        identity_store=identity_store_id(call.conn),
        level="OWNER",
        now=call.now,
    )


@operation("GetJob")
def get_job(call: Call, params: Params) -> Output:
    return job_details(require_job(call.conn, params["farmId"], params["queueId"], params["jobId"]))


@operation("ListJobs")
def list_jobs(call: Call, params: Params) -> Output:
    stmt = select(jobs).where(and_(jobs.c.farm_id == params["farmId"], jobs.c.queue_id == params["queueId"]))
    if params.get("principalId"):
        stmt = stmt.where(jobs.c.created_by_id == params["principalId"])
    rows, token = page(call.conn, stmt, [jobs.c.created_at, jobs.c.job_id], params)
    return {"jobs": [job_summary(r) for r in rows], "nextToken": token}


@operation("BatchGetJob")
def batch_get_job(call: Call, params: Params) -> Output:
    found, errors = [], []
    for ident in params["identifiers"]:
        ids = {"farmId": ident["farmId"], "queueId": ident["queueId"], "jobId": ident["jobId"]}
        try:
            row = require_job(call.conn, ident["farmId"], ident["queueId"], ident["jobId"])
        except ServiceError as error:
            errors.append({**ids, "code": error.code, "message": error.message})
            continue
        found.append(with_ids(job_details(row), **ids))
    return {"jobs": found, "errors": errors}


@operation("UpdateJob")
def update_job_op(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    update_job(call.conn, job, params, now=call.now, by=call.principal.arn)
    return {}


@operation("BatchUpdateJob")
def batch_update_job(call: Call, params: Params) -> Output:
    errors = []
    for item in params["jobs"]:
        ids = {"farmId": item["farmId"], "queueId": item["queueId"], "jobId": item["jobId"]}
        try:
            job = require_job(call.conn, item["farmId"], item["queueId"], item["jobId"])
            update_job(call.conn, job, item, now=call.now, by=call.principal.arn)
        except ServiceError as error:
            errors.append({**ids, "code": error.code, "message": error.message})
    return {"errors": errors}


@operation("ListJobParameterDefinitions")
def list_job_parameter_definitions(call: Call, params: Params) -> Output:
    """The job template's parameter definitions, as the template wrote them (one document each)."""
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    document = load_document(job.template, job.template_type)
    definitions = list(document.get("parameterDefinitions") or [])
    size = int(params.get("maxResults") or 100)
    start = 0
    if params.get("nextToken"):
        (start,) = decode_token(call.conn, "ListJobParameterDefinitions", params["nextToken"], 1)
    chunk = definitions[start : start + size]
    more = start + size < len(definitions)
    token = encode_token(call.conn, "ListJobParameterDefinitions", [start + size]) if more else None
    return {"jobParameterDefinitions": chunk, "nextToken": token}


@operation("CopyJobTemplate")
def copy_job_template(call: Call, params: Params) -> Output:
    """Write the job's template to an object in a bucket of this farm's stores.

    Queue credentials may write only inside their queue's prefix, as with any other object.
    """
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    target = params["targetS3Location"]
    bucket, key = target["bucketName"], target["key"]
    if "\x00" in key or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValidationError.for_field("targetS3Location.key", "must not have empty, '.' or '..' parts")
    principal = call.principal
    writer = caller_of(principal.principal_id, principal.arn, principal.kind, principal.scope)
    if not object_allowed(writer, rule_for("s3", "write"), "write", bucket, key):
        raise AccessDeniedError(f"{call.principal.arn} may not write s3://{bucket}/{key}")
    content_type = "application/json" if job.template_type == "JSON" else "application/yaml"
    try:
        call.runtime.buckets.store_for(bucket).write_object(bucket, key, job.template.encode(), content_type)
    except NoStoreError as exc:
        raise ValidationError.for_field("targetS3Location.bucketName", str(exc)) from exc
    except BucketStoreError as exc:
        raise InternalServerError(f"The template could not be written: {exc}") from exc
    return {"templateType": job.template_type}
