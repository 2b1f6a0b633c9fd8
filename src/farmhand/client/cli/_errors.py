"""Turn what goes wrong into one clear line on stderr and a non-zero exit, never a traceback.

The library raises `DeadlineOperationError` with a message meant for people; botocore raises its own
exceptions whose text is good but whose class decides the advice (missing profile, no credentials,
farm not reachable). Anything unexpected still gets one line; `--log-level debug` shows the traceback.
"""

from __future__ import annotations

import logging
from typing import IO, Any

import click

__all__ = ["CliError", "CliUsageError", "describe_error"]

log = logging.getLogger(__name__)


class CliError(click.ClickException):
    """A failure shown as `Error: <one line>` with exit code 1."""

    exit_code = 1


class CliUsageError(click.UsageError):
    """A mistake in how the command was called: `Error: <one line>`, exit code 2, no usage block."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


def _first_line(text: str) -> str:
    """A multi-line message folded into one line (validation errors span several)."""
    lines = [" ".join(line.split()) for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines) if lines else text


def _client_error_line(error: Any) -> str:
    response = getattr(error, "response", {}) or {}
    details = response.get("Error", {})
    code = details.get("Code", "Error")
    message = details.get("Message") or str(error)
    operation = getattr(error, "operation_name", "") or "the request"
    fields = response.get("fieldList") or []
    named = [f"{field.get('name')}: {field.get('message')}" for field in fields if isinstance(field, dict)]
    if named and not any(str(field.get("name")) in message for field in fields if isinstance(field, dict)):
        message = f"{message} ({'; '.join(named)})"
    return f"{operation} failed: {_first_line(message)} [{code}]"


def describe_error(error: BaseException) -> str | None:
    """The one line for an error the user can act on, or None for a programming error."""
    from ..exceptions import DeadlineOperationError

    if isinstance(error, DeadlineOperationError):
        return _first_line(str(error)) or type(error).__name__
    module = type(error).__module__
    if module.startswith("farmhand.job_attachments"):
        return _first_line(str(error)) or type(error).__name__
    if module.startswith("botocore"):
        return _botocore_line(error)
    if isinstance(error, OSError):
        return _first_line(str(error))
    if isinstance(error, ValueError):
        return _first_line(str(error))
    return None


def _botocore_line(error: BaseException) -> str:
    from botocore import exceptions as botocore_errors

    if isinstance(error, botocore_errors.ClientError):
        return _client_error_line(error)
    if isinstance(error, botocore_errors.ProfileNotFound):
        profile = getattr(error, "kwargs", {}).get("profile", "")
        return (
            f"The AWS profile '{profile}' does not exist in the AWS config files "
            "(choose another with --profile or `farmhand config set defaults.aws_profile_name NAME`)."
        )
    if isinstance(error, botocore_errors.NoCredentialsError):
        return (
            "No AWS credentials were found: pass --profile NAME (a profile of the AWS config files), "
            "or start a farm with `farmhand up`, which writes a profile and makes it the default."
        )
    if isinstance(error, botocore_errors.NoRegionError):
        return "No AWS region is configured (set `region` in the AWS profile or pass --region)."
    if isinstance(error, botocore_errors.EndpointConnectionError):
        return f"Could not reach the farm: {error} (is the farm server running?)"
    return _first_line(str(error))
