"""The search compiler's refusals, for shapes botocore's own client-side checks never let through."""

from __future__ import annotations

from typing import Any

import pytest

from farmhand.server.jobs import JOB_SEARCH, STEP_SEARCH
from farmhand.server.jobs._search import compile_filter, compile_sort
from farmhand.server.protocol import ValidationError

NAME = {"stringFilter": {"name": "NAME", "operator": "EQUAL", "value": "x"}}


def group(*filters: dict[str, Any], operator: str = "AND") -> dict[str, Any]:
    return {"filters": list(filters), "operator": operator}


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        (group({**NAME, "searchTermFilter": {"searchTerm": "x"}}), "exactly one"),
        (group(NAME, NAME, NAME, NAME), "1 to 3"),
        (group(), "1 to 3"),
        (group(NAME, operator="XOR"), "AND or OR"),
        (group({"groupFilter": group({"groupFilter": group(NAME)})}), "group"),
        (group({"searchTermFilter": {"searchTerm": "x", "matchType": "REGEX"}}), "matchType"),
        (group({"stringListFilter": {"name": "NAME", "operator": "ANY_EQUALS", "values": []}}), "1 to 16"),
    ],
    ids=[
        "two-types",
        "four-filters",
        "no-filters",
        "bad-operator",
        "group-in-group",
        "bad-match-type",
        "empty-list",
    ],
)
def test_malformed_expressions_are_refused(expression: dict[str, Any], fragment: str) -> None:
    # Given a malformed expression, When it is compiled, Then it is a ValidationException naming the problem
    with pytest.raises(ValidationError) as info:
        compile_filter(JOB_SEARCH, expression)
    assert fragment in info.value.message


def test_one_level_of_groups_compiles() -> None:
    # Given a group inside the top-level expression, When compiled, Then it is one SQL condition
    condition = compile_filter(JOB_SEARCH, group(NAME, {"groupFilter": group(NAME, NAME, operator="OR")}))
    assert " OR " in str(condition) and " AND " in str(condition)


def test_sort_refusals() -> None:
    with pytest.raises(ValidationError):
        compile_sort(JOB_SEARCH, [{"fieldSort": {"name": "NAME", "sortOrder": "UP"}}])
    with pytest.raises(ValidationError):
        compile_sort(JOB_SEARCH, [{"fieldSort": {"name": "NAME", "sortOrder": "ASCENDING"}}] * 6)
    with pytest.raises(ValidationError) as info:
        compile_sort(STEP_SEARCH, [{"parameterSort": {"name": "Frame", "sortOrder": "ASCENDING"}}])
    assert "parameters" in info.value.message
