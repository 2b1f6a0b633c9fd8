"""The job-attachment errors: each names the file, object or manifest it is about."""

from __future__ import annotations

__all__ = [
    "FileChangedError",
    "JobAttachmentsError",
    "ManifestError",
    "ObjectIntegrityError",
    "ObjectMissingError",
    "PathOutsideRootError",
    "StorageAccessError",
    "TransferCancelledError",
]


class JobAttachmentsError(Exception):
    """Anything that stops a job-attachment transfer; the message says what and where."""


class ManifestError(JobAttachmentsError):
    """A manifest that is not a valid v2023-03-03 manifest, or names a path outside its root."""


class PathOutsideRootError(ManifestError):
    """A manifest path (or a symlink on the way) that would leave the directory it belongs to."""


class FileChangedError(JobAttachmentsError):
    """A file kept changing while it was hashed or read, so no consistent content could be taken."""


class ObjectMissingError(JobAttachmentsError):
    """An object the manifest refers to is not in the store."""


class ObjectIntegrityError(JobAttachmentsError):
    """An object whose bytes do not hash to the name it is stored under."""


class StorageAccessError(JobAttachmentsError):
    """The store refused a request (credentials, permissions, a full disk, ...)."""


class TransferCancelledError(JobAttachmentsError):
    """A progress callback asked to stop (it returned False)."""
