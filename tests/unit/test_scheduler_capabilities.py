"""Host requirements against worker and fleet capabilities (pure)."""

from __future__ import annotations

from farmhand.server.scheduler import (
    fleet_can_satisfy,
    fleet_capabilities_from_api,
    requirements_from_api,
    worker_capabilities_from_api,
    worker_satisfies,
)

WORKER = worker_capabilities_from_api(
    {
        "amounts": [
            {"name": "amount.worker.vcpu", "value": 8},
            {"name": "amount.worker.memory", "value": 16384},
        ],
        "attributes": [
            {"name": "attr.worker.os.family", "values": ["linux"]},
            {"name": "attr.custom", "values": ["a", "b"]},
        ],
    }
)


def test_a_worker_meets_amount_ranges_and_attribute_sets() -> None:
    wanted = requirements_from_api(
        {
            "amounts": [{"name": "amount.worker.vcpu", "min": 4, "max": 8}],
            "attributes": [
                {"name": "attr.worker.os.family", "anyOf": ["LINUX", "macos"]},
                {"name": "attr.custom", "allOf": ["a", "b"]},
            ],
        }
    )
    assert worker_satisfies(WORKER, wanted)


def test_a_worker_fails_a_requirement_outside_its_capabilities() -> None:
    assert not worker_satisfies(
        WORKER, requirements_from_api({"amounts": [{"name": "amount.worker.vcpu", "min": 16}]})
    )
    assert not worker_satisfies(
        WORKER, requirements_from_api({"amounts": [{"name": "amount.worker.gpu", "min": 1}]})
    )
    assert not worker_satisfies(
        WORKER, requirements_from_api({"attributes": [{"name": "attr.custom", "allOf": ["a", "c"]}]})
    )
    assert not worker_satisfies(
        WORKER,
        requirements_from_api({"attributes": [{"name": "attr.worker.os.family", "anyOf": ["windows"]}]}),
    )


def test_no_requirements_fit_every_worker() -> None:
    assert worker_satisfies(worker_capabilities_from_api(None), requirements_from_api(None))


def test_a_fleet_can_satisfy_overlapping_ranges_only() -> None:
    fleet = fleet_capabilities_from_api(
        {
            "amounts": [
                {"name": "amount.worker.vcpu", "min": 2, "max": 8},
                {"name": "amount.worker.memory", "min": 2048},
            ],
            "attributes": [{"name": "attr.worker.os.family", "values": ["linux"]}],
        }
    )
    assert fleet_can_satisfy(
        fleet, requirements_from_api({"amounts": [{"name": "amount.worker.vcpu", "min": 8}]})
    )
    assert fleet_can_satisfy(
        fleet, requirements_from_api({"amounts": [{"name": "amount.worker.memory", "min": 10**6}]})
    )
    assert not fleet_can_satisfy(
        fleet, requirements_from_api({"amounts": [{"name": "amount.worker.vcpu", "min": 9}]})
    )
    assert not fleet_can_satisfy(
        fleet, requirements_from_api({"amounts": [{"name": "amount.worker.vcpu", "max": 1}]})
    )
    assert not fleet_can_satisfy(
        fleet, requirements_from_api({"amounts": [{"name": "amount.worker.gpu", "min": 1}]})
    )
    assert not fleet_can_satisfy(
        fleet,
        requirements_from_api({"attributes": [{"name": "attr.worker.os.family", "anyOf": ["windows"]}]}),
    )
