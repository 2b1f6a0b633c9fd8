"""The farm's S3-compatible object store: storage engine, S3 endpoint, and who may use it.

The rest of the server uses `ObjectStore` (`ensure_bucket` for a queue's bucket, `head_object`,
`read_object` and `xxh128_of` to check an object such as an input manifest, `write_object`, and
`copy_to`/`object_files` for readers on the farm's own host); other processes on that host (the
local workers) read objects by the store's files with `StoreFiles`; the ASGI app hands requests
signed for `s3` to `S3Endpoint`, which asks the farm's access table what a principal may do in the
store.
"""

from ._access import S3Action
from ._endpoint import S3Endpoint, is_s3_request
from ._errors import S3Error
from ._files import StoreFiles
from ._names import check_key
from ._store import (
    INLINE_MAX_BYTES,
    MIN_PART_BYTES,
    UPLOAD_LIFETIME_SECONDS,
    ListPage,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    PartInfo,
    StagedBlob,
    UploadInfo,
)

__all__ = [
    "INLINE_MAX_BYTES",
    "MIN_PART_BYTES",
    "UPLOAD_LIFETIME_SECONDS",
    "ListPage",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "PartInfo",
    "S3Action",
    "S3Endpoint",
    "S3Error",
    "StagedBlob",
    "StoreFiles",
    "UploadInfo",
    "check_key",
    "is_s3_request",
]
