"""Where the database URL comes from: the option, its variable, or a private file."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from farmhand._database_url import resolve_database_url

URL = "postgresql+psycopg://farm:secret@db/farmhand"


def test_the_url_alone_is_used_as_given() -> None:
    assert resolve_database_url(URL, None) == URL
    assert resolve_database_url(None, None) is None


def test_a_private_file_gives_its_first_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "database-url"
    path.write_text(f"  {URL}  \n# comment\n")
    path.chmod(0o600)
    assert resolve_database_url(None, path) == URL
    assert capsys.readouterr().err == ""


def test_a_file_others_can_read_is_used_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "database-url"
    path.write_text(URL)
    path.chmod(0o644)
    assert resolve_database_url(None, path) == URL
    assert "readable by other users" in capsys.readouterr().err


def test_an_empty_file_or_both_forms_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "database-url"
    path.write_text("\n")
    with pytest.raises(click.BadParameter, match="empty"):
        resolve_database_url(None, path)
    path.write_text(URL)
    with pytest.raises(click.UsageError, match="once"):
        resolve_database_url(URL, path)
