"""Which session's log `get_session_logs(job_id=...)` shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farmhand.client.api._logs import choose_session_for_logs

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def session(session_id: str, started: int, ended: int | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"sessionId": session_id, "startedAt": T0 + timedelta(minutes=started)}
    if ended is not None:
        entry["endedAt"] = T0 + timedelta(minutes=ended)
    return entry


def test_the_latest_started_ongoing_session_wins() -> None:
    sessions = [session("a", 0), session("b", 5), session("c", 1, 30)]
    assert choose_session_for_logs(sessions) == sessions[1]


def test_without_ongoing_sessions_the_latest_ended_wins() -> None:
    sessions = [session("a", 0, 40), session("b", 5, 10)]
    assert choose_session_for_logs(sessions) == sessions[0]


def test_no_sessions_means_no_choice() -> None:
    assert choose_session_for_logs([]) is None
