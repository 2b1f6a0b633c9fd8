"""Host requirements (OpenJD `hostRequirements`, as GetStep's `requiredCapabilities`) against capabilities.

Names and attribute values compare case-insensitively. A worker satisfies an amount requirement when
it reports that amount and `min <= value <= max`; an attribute requirement when it reports at least
one `anyOf` value and every `allOf` value.

A fleet meets a step's host requirements when every worker it may hold does, by the capabilities the
fleet declares ("Schedule jobs in Deadline Cloud"): its declared range of an amount must lie inside
the wanted range. A fleet declaring `vCpuCount: {min: 4}` (no maximum) does not meet "4 to 8 vCPUs",
since it admits hosts with more than 8; a fleet declaring 2 to 8 does not meet "at least 4". An
undeclared amount or attribute meets no requirement on it. Only the fleet decides compatibility: a
worker that meets a step's requirements gets no task of it when its fleet does not.
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
    return not unmet_by_worker(capabilities, requirements)


@dataclass(frozen=True)
class Unmet:
    """One host requirement a fleet or worker does not meet, and what it has instead (for people)."""

    name: str
    wanted: str  # e.g. "≥ 4", "between 4 and 8", "one of linux"
    have: str  # e.g. "2", "4 to unbounded", "windows", "nothing declared"

    def __str__(self) -> str:
        return f"needs {self.name} {self.wanted}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _wanted_amount(amount: AmountRequirement) -> str:
    if amount.minimum is not None and amount.maximum is not None:
        return f"between {_number(amount.minimum)} and {_number(amount.maximum)}"
    if amount.minimum is not None:
        return f"≥ {_number(amount.minimum)}"
    if amount.maximum is not None:
        return f"≤ {_number(amount.maximum)}"
    return "declared"


def _wanted_attribute(attribute: AttributeRequirement) -> str:
    parts = []
    if attribute.any_of:
        parts.append("one of " + ", ".join(sorted(attribute.any_of)))
    if attribute.all_of:
        parts.append("all of " + ", ".join(sorted(attribute.all_of)))
    return " and ".join(parts) or "declared"


def _values(values: frozenset[str] | None) -> str:
    return "nothing declared" if values is None else ", ".join(sorted(values)) or "no value"


def _attribute_met(attribute: AttributeRequirement, values: frozenset[str] | None) -> bool:
    if values is None:
        return False
    return (not attribute.any_of or bool(attribute.any_of & values)) and attribute.all_of <= values


def unmet_by_fleet(fleet: FleetCapabilities, requirements: Requirements) -> list[Unmet]:
    """The requirements some worker this fleet may hold would not meet (empty: the fleet meets them)."""
    unmet: list[Unmet] = []
    for amount in requirements.amounts:
        declared = fleet.amounts.get(amount.name)
        if declared is None:
            unmet.append(Unmet(amount.name, _wanted_amount(amount), "nothing declared"))
            continue
        low, high = declared
        top = math.inf if high is None else high
        too_low = amount.minimum is not None and low < amount.minimum
        too_high = amount.maximum is not None and top > amount.maximum
        if too_low or too_high:
            have = f"{_number(low)} to {'unbounded' if high is None else _number(high)}"
            unmet.append(Unmet(amount.name, _wanted_amount(amount), have))
    for attribute in requirements.attributes:
        values = fleet.attributes.get(attribute.name)
        if not _attribute_met(attribute, values):
            unmet.append(Unmet(attribute.name, _wanted_attribute(attribute), _values(values)))
    return unmet


def unmet_by_worker(capabilities: WorkerCapabilities, requirements: Requirements) -> list[Unmet]:
    """The requirements this worker, by what it reported, does not meet."""
    unmet: list[Unmet] = []
    for amount in requirements.amounts:
        value = capabilities.amounts.get(amount.name)
        low_ok = value is not None and (amount.minimum is None or value >= amount.minimum)
        if not (low_ok and (amount.maximum is None or (value is not None and value <= amount.maximum))):
            have = "nothing reported" if value is None else _number(value)
            unmet.append(Unmet(amount.name, _wanted_amount(amount), have))
    for attribute in requirements.attributes:
        values = capabilities.attributes.get(attribute.name)
        if not _attribute_met(attribute, values):
            have = "nothing reported" if values is None else _values(values)
            unmet.append(Unmet(attribute.name, _wanted_attribute(attribute), have))
    return unmet


def fleet_can_satisfy(fleet: FleetCapabilities, requirements: Requirements) -> bool:
    """Does every worker this fleet may hold, by the capabilities it declares, meet the requirements?"""
    return not unmet_by_fleet(fleet, requirements)
