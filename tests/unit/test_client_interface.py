"""The public interface of `farmhand.client.api`: the names and signatures scripts are written against."""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any

import pytest
from deadline.client import api as aws_api  # the installed AWS client: the reference, at test time only

from farmhand.client import api

# Names `deadline.client.api` exports that this client does not have yet. A name missing that is not
# listed here fails, and so does a listed name that appears (take it off the list).
EXPECTED_MISSING: set[str] = set()
AWS_NAMES = sorted(aws_api.__all__)


def _described(value: Any) -> Any:
    """A default as comparable across the two packages (an enum member by its name)."""
    if isinstance(value, Enum):
        return (type(value).__name__, value.name)
    return value


def _parameters(thing: Any) -> list[tuple[str, Any, str]]:
    return [
        (p.name, _described(p.default), p.kind.name) for p in inspect.signature(thing).parameters.values()
    ]


def test_every_aws_name_is_exported_or_expected_missing() -> None:
    missing = {name for name in AWS_NAMES if not hasattr(api, name)}
    assert missing == EXPECTED_MISSING
    assert missing <= set(AWS_NAMES), "an expected-missing name left deadline.client.api"


@pytest.mark.parametrize("name", [n for n in AWS_NAMES if n not in EXPECTED_MISSING])
def test_each_name_matches_the_aws_client(name: str) -> None:
    # Given the AWS client's export and ours
    theirs, ours = getattr(aws_api, name), getattr(api, name)
    assert name in api.__all__
    # Then they are the same kind of thing
    assert inspect.isclass(theirs) == inspect.isclass(ours)
    if inspect.isclass(theirs) and issubclass(theirs, Enum):
        # an enum: the same members with the same values
        assert [(m.name, m.value) for m in theirs] == [(m.name, m.value) for m in ours]
        return
    if inspect.isclass(theirs):
        # a class: the same constructor, and the same abstract methods and public methods with theirs
        assert _parameters(ours) == _parameters(theirs)
        assert getattr(ours, "__abstractmethods__", frozenset()) == getattr(
            theirs, "__abstractmethods__", frozenset()
        )
        for method in [m for m in vars(theirs) if not m.startswith("_") and callable(getattr(theirs, m))]:
            assert _parameters(getattr(ours, method)) == _parameters(getattr(theirs, method)), method
        return
    # a function: the same parameters, in the same order, of the same kinds, with the same defaults
    assert _parameters(ours) == _parameters(theirs)


def test_importing_the_client_package_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, farmhand.client, farmhand.client.config\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'openjd', 'yaml') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert loaded.strip() == "[]"
