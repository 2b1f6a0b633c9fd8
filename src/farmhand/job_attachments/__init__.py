"""Job attachments: manifests, hashing, caches and transfers in the AWS Deadline Cloud layout.

Shared by the client (submission, `job download-output`, the manifest and attachment commands)
and the worker (input sync, output upload). Everything it writes is what the AWS tools write, so
either side can be farmhand's or AWS's.
"""

from ._cache_db import default_cache_dir
from ._content_cache import ContentCache, default_content_cache_dir
from ._download import ConflictResolution, DownloadSummary, FileToPlace, destination_in, download_files
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
from ._grouping import AssetRootGroup, group_asset_paths, is_under, root_path_format
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
from ._outputs import OutputManifest, fetch_output_manifests, merge_by_root, select_output_manifest_keys
from ._path_mapping import PathMappingRule, map_path, rules_between
from ._progress import (
    ProgressCallback,
    ProgressReportMetadata,
    ProgressStatus,
    ProgressTracker,
    SummaryStatistics,
    human_readable_size,
)
from ._s3_check_cache import S3CheckCache
from ._snapshot import FileStat, list_files, relative_posix, snapshot, stat_files
from ._storage import ObjectStorage, StoredObject
from ._storage_profile import (
    FileSystemLocation,
    FileSystemLocationType,
    StorageProfile,
    StorageProfileOperatingSystemFamily,
)
from ._submission import HashedRoot, hash_roots, snapshot_roots, stat_groups, upload_roots
from ._upload import ContentUpload, upload_contents

__all__ = [
    "HASH_ALGORITHM",
    "MANIFEST_VERSION",
    "AssetRootGroup",
    "ConflictResolution",
    "ContentCache",
    "ContentUpload",
    "DownloadSummary",
    "FileChangedError",
    "FileDigest",
    "FileStat",
    "FileSystemLocation",
    "FileSystemLocationType",
    "FileToPlace",
    "HashCache",
    "HashedRoot",
    "JobAttachmentsError",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "ObjectIntegrityError",
    "ObjectMissingError",
    "ObjectStorage",
    "OutputManifest",
    "PathMappingRule",
    "PathOutsideRootError",
    "ProgressCallback",
    "ProgressReportMetadata",
    "ProgressStatus",
    "ProgressTracker",
    "S3CheckCache",
    "StorageAccessError",
    "StorageProfile",
    "StorageProfileOperatingSystemFamily",
    "StorageSettings",
    "StoredObject",
    "SummaryStatistics",
    "TransferCancelledError",
    "check_relative_path",
    "default_cache_dir",
    "default_content_cache_dir",
    "destination_in",
    "download_files",
    "fetch_output_manifests",
    "group_asset_paths",
    "hash_file",
    "hash_files",
    "hash_roots",
    "human_readable_size",
    "input_manifest_path",
    "is_under",
    "list_files",
    "map_path",
    "merge_by_root",
    "output_manifest_metadata",
    "output_manifest_prefix",
    "output_manifest_root",
    "relative_posix",
    "root_path_format",
    "rules_between",
    "select_output_manifest_keys",
    "session_root_directory_name",
    "snapshot",
    "snapshot_roots",
    "stat_files",
    "stat_groups",
    "upload_contents",
    "upload_roots",
    "xxh128_hex",
]
