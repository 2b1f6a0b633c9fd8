"""Whether the library is driven by an automated coding assistant, for the user agent and telemetry."""

from __future__ import annotations

import os
import re

__all__ = ["detect_invoking_agent"]

_MARKERS = (
    (("CLAUDECODE", "CLAUDE_CODE"), "claude-code"),
    (("CODEX_SANDBOX", "CODEX_THREAD_ID"), "codex"),
    (("CURSOR_AGENT",), "cursor"),
    (("REPL_ID",), "replit"),
    (("GEMINI_CLI",), "gemini"),
    (("OPENCODE",), "opencode"),
    (("AUGMENT_AGENT",), "auggie"),
    (("GOOSE_PROVIDER",), "goose"),
)
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME_LENGTH = 64


def detect_invoking_agent() -> str | None:
    """The agent's name from `AI_AGENT`/`AGENT` or a known marker variable; None for a person."""
    for variable in ("AI_AGENT", "AGENT"):
        value = os.environ.get(variable, "").strip()
        if value and value.lower() not in ("1", "true"):
            name = _NOT_A_NAME.sub("", value)[:_MAX_NAME_LENGTH].lower().split("_", 1)[0]
            if name:
                return name
    for variables, name in _MARKERS:
        if any(os.environ.get(variable) for variable in variables):
            return name
    if "devin" in os.environ.get("EDITOR", "").lower():
        return "devin"
    if "kiro" in os.environ.get("TERM_PROGRAM", "").lower():
        return "kiro"
    if os.environ.get("AGENT", "").strip().lower() in ("1", "true"):
        return "unknown"
    return None
