"""Errors the client library raises; the CLI prints their message and exits non-zero."""

from __future__ import annotations

__all__ = [
    "CreateJobWaiterCanceled",
    "DeadlineOperationCanceled",
    "DeadlineOperationError",
    "DeadlineOperationTimedOut",
    "MisconfiguredInputsError",
    "UserInitiatedCancel",
]


class DeadlineOperationError(Exception):
    """An operation failed for a reason the user can act on; the message is shown as-is."""


class DeadlineOperationCanceled(DeadlineOperationError):
    """The operation was canceled before it finished."""

    def __init__(self, message: str = "Operation canceled") -> None:
        super().__init__(message)


class DeadlineOperationTimedOut(DeadlineOperationError):
    """Waiting took longer than the caller allowed."""


class CreateJobWaiterCanceled(DeadlineOperationCanceled):
    """The caller's continue-callback stopped the wait for CreateJob to finish."""


class UserInitiatedCancel(DeadlineOperationCanceled):
    """The user answered no to a confirmation."""


class MisconfiguredInputsError(DeadlineOperationError):
    """Input paths of a submission are missing or of the wrong kind."""
