"""Moving a job's attachments to and from this workstation: outputs, inputs, manifests.

What `farmhand job download-output`, `job download-input`, `queue sync-output` and the `manifest`
and `attachment` commands do, on the same primitives as submission (`farmhand.job_attachments`).
"""

from ._job_transfers import (
    DownloadPlan,
    plan_job_input,
    plan_job_output,
    queue_storage,
    run_plan,
)
from ._manifest_files import ManifestDiff, diff_directory, read_manifest, snapshot_directory
from ._queue_sync import QueueSyncResult, default_checkpoint_dir, sync_queue_output

__all__ = [
    "DownloadPlan",
    "ManifestDiff",
    "QueueSyncResult",
    "default_checkpoint_dir",
    "diff_directory",
    "plan_job_input",
    "plan_job_output",
    "queue_storage",
    "read_manifest",
    "run_plan",
    "snapshot_directory",
    "sync_queue_output",
]
