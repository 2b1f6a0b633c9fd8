"""Which automated assistant (if any) drives the library, as reported in the user agent."""

from __future__ import annotations

import pytest

from farmhand import __version__
from farmhand.client.api._agent_detection import detect_invoking_agent
from farmhand.client.api._session import user_agent_extra

_VARIABLES = (
    "AI_AGENT",
    "AGENT",
    "CLAUDECODE",
    "CLAUDE_CODE",
    "CODEX_SANDBOX",
    "CODEX_THREAD_ID",
    "CURSOR_AGENT",
    "REPL_ID",
    "GEMINI_CLI",
    "OPENCODE",
    "AUGMENT_AGENT",
    "GOOSE_PROVIDER",
    "EDITOR",
    "TERM_PROGRAM",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_a_person_is_not_an_agent() -> None:
    assert detect_invoking_agent() is None
    assert "invoked-by" not in user_agent_extra()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AI_AGENT", "My Agent_v2!", "myagent"),
        ("AGENT", "Goose", "goose"),
        ("AGENT", "1", "unknown"),
        ("CODEX_THREAD_ID", "abc", "codex"),
        ("CURSOR_AGENT", "1", "cursor"),
        ("EDITOR", "/usr/bin/devin-edit", "devin"),
        ("TERM_PROGRAM", "Kiro", "kiro"),
    ],
)
def test_agents_are_named(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str) -> None:
    monkeypatch.setenv(variable, value)
    assert detect_invoking_agent() == expected
    assert user_agent_extra().endswith(f"invoked-by/{expected}")


def test_user_agent_names_the_client_submitter_and_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from farmhand.client.api import session_context

    monkeypatch.setitem(session_context, "submitter-name", "Maya")
    monkeypatch.setitem(session_context, "submitter-version", "2.1")
    monkeypatch.setitem(session_context, "cli-command-name", "farmhand.bundle.submit")
    assert user_agent_extra().split() == [
        f"app/farmhand-client#{__version__}",
        "submitter/Maya#2.1",
        "cli-command/farmhand.bundle.submit",
    ]
