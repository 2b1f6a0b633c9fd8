"""Job attachments: manifests, hashing, caches and transfers in the AWS Deadline Cloud layout.

Shared by the client (submission, `job download-output`, the manifest and attachment commands)
and the worker (input sync, output upload). Everything it writes is what the AWS tools write, so
either side can be farmhand's or AWS's.
"""

from ._cache_db import default_cache_dir
from ._errors import (
    FileChangedError,
    JobAttachmentsError,
    ManifestError,
    ObjectIntegrityError,
    ObjectMissingError,
    PathOutsideRootError,
    StorageAccessError,
    TransferCancelledError,
)
from ._hash_cache import HashCache
from ._hashing import FileDigest, hash_file, hash_files
from ._layout import (
    StorageSettings,
    input_manifest_path,
    output_manifest_metadata,
    output_manifest_prefix,
    output_manifest_root,
    session_root_directory_name,
)
from ._manifest import (
    HASH_ALGORITHM,
    MANIFEST_VERSION,
    Manifest,
    ManifestEntry,
    check_relative_path,
    xxh128_hex,
)
from ._progress import (
    ProgressCallback,
    ProgressReportMetadata,
    ProgressStatus,
    ProgressTracker,
    SummaryStatistics,
    human_readable_size,
)
from ._snapshot import FileStat, list_files, relative_posix, snapshot, stat_files

__all__ = [
    "HASH_ALGORITHM",
    "MANIFEST_VERSION",
    "FileChangedError",
    "FileDigest",
    "FileStat",
    "HashCache",
    "JobAttachmentsError",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "ObjectIntegrityError",
    "ObjectMissingError",
    "PathOutsideRootError",
    "ProgressCallback",
    "ProgressReportMetadata",
    "ProgressStatus",
    "ProgressTracker",
    "StorageAccessError",
    "StorageSettings",
    "SummaryStatistics",
    "TransferCancelledError",
    "check_relative_path",
    "default_cache_dir",
    "hash_file",
    "hash_files",
    "human_readable_size",
    "input_manifest_path",
    "list_files",
    "output_manifest_metadata",
    "output_manifest_prefix",
    "output_manifest_root",
    "relative_posix",
    "session_root_directory_name",
    "snapshot",
    "stat_files",
    "xxh128_hex",
]
