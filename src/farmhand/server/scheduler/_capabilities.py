"""Host requirements (OpenJD `hostRequirements`, as GetStep's `requiredCapabilities`) against capabilities.

Names and attribute values compare case-insensitively. A worker satisfies an amount requirement when
it reports that amount and `min <= value <= max`; an attribute requirement when it reports at least
one `anyOf` value and every `allOf` value. A fleet *can ever* satisfy a requirement when the ranges it
declares overlap the wanted range (amounts) and the values it declares allow the wanted values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AmountRequirement:
    name: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class AttributeRequirement:
    name: str
    any_of: frozenset[str] = frozenset()
    all_of: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Requirements:
    amounts: tuple[AmountRequirement, ...] = ()
    attributes: tuple[AttributeRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.amounts and not self.attributes


@dataclass(frozen=True)
class WorkerCapabilities:
    """What one worker reported in UpdateWorker: an exact value per amount, a set of values per attribute."""

    amounts: Mapping[str, float]
    attributes: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class FleetCapabilities:
    """What a fleet declares: a range per amount (max None = unbounded), allowed values per attribute."""

    amounts: Mapping[str, tuple[float, float | None]]
    attributes: Mapping[str, frozenset[str]]


NO_REQUIREMENTS = Requirements()


def _lower(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v).lower() for v in values)


def requirements_from_api(doc: Mapping[str, Any] | None) -> Requirements:
    """`{"amounts": [{name, min, max}], "attributes": [{name, anyOf, allOf}]}` → Requirements."""
    if not doc:
        return NO_REQUIREMENTS
    amounts = tuple(
        AmountRequirement(
            str(a["name"]).lower(),
            None if a.get("min") is None else float(a["min"]),
            None if a.get("max") is None else float(a["max"]),
        )
        for a in doc.get("amounts") or []
    )
    attributes = tuple(
        AttributeRequirement(
            str(a["name"]).lower(), _lower(a.get("anyOf") or ()), _lower(a.get("allOf") or ())
        )
        for a in doc.get("attributes") or []
    )
    return Requirements(amounts, attributes)


def worker_capabilities_from_api(doc: Mapping[str, Any] | None) -> WorkerCapabilities:
    """UpdateWorker's `capabilities` → WorkerCapabilities."""
    doc = doc or {}
    return WorkerCapabilities(
        {str(a["name"]).lower(): float(a["value"]) for a in doc.get("amounts") or []},
        {str(a["name"]).lower(): _lower(a.get("values") or ()) for a in doc.get("attributes") or []},
    )


def fleet_capabilities_from_api(doc: Mapping[str, Any] | None) -> FleetCapabilities:
    """GetFleet's `capabilities` (`amounts[{name, min, max}]`, `attributes[{name, values}]`)."""
    doc = doc or {}
    return FleetCapabilities(
        {
            str(a["name"]).lower(): (
                float(a.get("min") or 0.0),
                None if a.get("max") is None else float(a["max"]),
            )
            for a in doc.get("amounts") or []
        },
        {str(a["name"]).lower(): _lower(a.get("values") or ()) for a in doc.get("attributes") or []},
    )


def worker_satisfies(capabilities: WorkerCapabilities, requirements: Requirements) -> bool:
    """Can this worker run a step with these host requirements right now?"""
    for amount in requirements.amounts:
        value = capabilities.amounts.get(amount.name)
        if value is None:
            return False
        if amount.minimum is not None and value < amount.minimum:
            return False
        if amount.maximum is not None and value > amount.maximum:
            return False
    for attribute in requirements.attributes:
        values = capabilities.attributes.get(attribute.name)
        if values is None:
            return False
        if attribute.any_of and not (attribute.any_of & values):
            return False
        if not attribute.all_of <= values:
            return False
    return True


def fleet_can_satisfy(fleet: FleetCapabilities, requirements: Requirements) -> bool:
    """Could any worker this fleet admits ever run a step with these host requirements?"""
    for amount in requirements.amounts:
        declared = fleet.amounts.get(amount.name)
        if declared is None:
            return False
        low, high = declared
        top = math.inf if high is None else high
        if amount.minimum is not None and top < amount.minimum:
            return False
        if amount.maximum is not None and low > amount.maximum:
            return False
    for attribute in requirements.attributes:
        values = fleet.attributes.get(attribute.name)
        if values is None:
            return False
        if attribute.any_of and not (attribute.any_of & values):
            return False
        if not attribute.all_of <= values:
            return False
    return True
