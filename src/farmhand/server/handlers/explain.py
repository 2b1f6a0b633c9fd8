"""ExplainJob (`farmhand-scheduling`): why a job's unfinished work is where it is (see worker_plane)."""

from __future__ import annotations

from ..._models import SCHEDULING_SERVICE
from ..jobs import require_job
from ..worker_plane import explain_job
from ._registry import Call, Output, Params, operation


@operation("ExplainJob", service=SCHEDULING_SERVICE, writes=False)
def explain(call: Call, params: Params) -> Output:
    job = require_job(call.conn, params["farmId"], params["queueId"], params["jobId"])
    return explain_job(call.conn, job, failure_cap=int(call.runtime.config.worker_failure_cap))
