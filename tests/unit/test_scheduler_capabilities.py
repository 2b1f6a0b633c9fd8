"""Host requirements against worker and fleet capabilities (pure)."""

from __future__ import annotations

from typing import Any

from farmhand.server.handlers.fleets import fleet_capabilities
from farmhand.server.scheduler import (
    fleet_can_satisfy,
    fleet_capabilities_from_api,
    requirements_from_api,
    unmet_by_fleet,
    unmet_by_worker,
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


# The user guide's example ("Schedule jobs in Deadline Cloud"): a step needing 4 to 8 vCPUs on Linux.
GUIDE_STEP = requirements_from_api(
    {
        "amounts": [{"name": "amount.worker.vcpu", "min": 4, "max": 8}],
        "attributes": [{"name": "attr.worker.os.family", "anyOf": ["linux"]}],
    }
)


def guide_fleet(vcpu: dict[str, float], os_family: str = "LINUX") -> Any:
    """A customer-managed fleet's capabilities, as CreateFleet derives them from its configuration."""
    configuration = {
        "customerManaged": {
            "workerCapabilities": {
                "vCpuCount": vcpu,
                "memoryMiB": {"min": 1024},
                "osFamily": os_family,
                "cpuArchitectureType": "x86_64",
            }
        }
    }
    return fleet_capabilities_from_api(fleet_capabilities(configuration))


def test_a_fleet_declaring_the_wanted_range_meets_the_step() -> None:
    assert fleet_can_satisfy(guide_fleet({"min": 4, "max": 8}), GUIDE_STEP)
    assert fleet_can_satisfy(guide_fleet({"min": 5, "max": 6}), GUIDE_STEP)


def test_a_fleet_without_a_maximum_exceeds_the_wanted_maximum() -> None:
    fleet = guide_fleet({"min": 4})
    assert not fleet_can_satisfy(fleet, GUIDE_STEP)
    assert [str(u) for u in unmet_by_fleet(fleet, GUIDE_STEP)] == ["needs amount.worker.vcpu between 4 and 8"]
    assert unmet_by_fleet(fleet, GUIDE_STEP)[0].have == "4 to unbounded"


def test_a_fleet_whose_minimum_is_below_the_wanted_minimum_does_not_meet_it() -> None:
    assert not fleet_can_satisfy(guide_fleet({"min": 2, "max": 8}), GUIDE_STEP)
    at_least_four = requirements_from_api({"amounts": [{"name": "amount.worker.vcpu", "min": 4}]})
    assert fleet_can_satisfy(guide_fleet({"min": 4}), at_least_four)
    assert not fleet_can_satisfy(guide_fleet({"min": 1}), at_least_four)


def test_a_fleet_of_another_os_does_not_meet_the_step() -> None:
    fleet = guide_fleet({"min": 4, "max": 8}, os_family="WINDOWS")
    (unmet,) = unmet_by_fleet(fleet, GUIDE_STEP)
    assert (unmet.name, unmet.wanted, unmet.have) == ("attr.worker.os.family", "one of linux", "windows")


def test_a_fleet_meets_nothing_it_does_not_declare() -> None:
    fleet = guide_fleet({"min": 4, "max": 8})
    gpu = requirements_from_api({"amounts": [{"name": "amount.worker.gpu", "min": 1}]})
    assert [(u.name, u.have) for u in unmet_by_fleet(fleet, gpu)] == [
        ("amount.worker.gpu", "nothing declared")
    ]
    assert fleet_can_satisfy(fleet, requirements_from_api(None))


def test_an_unmet_worker_requirement_names_the_workers_value() -> None:
    wanted = requirements_from_api({"amounts": [{"name": "amount.worker.vcpu", "min": 100000}]})
    (unmet,) = unmet_by_worker(WORKER, wanted)
    assert (str(unmet), unmet.have) == ("needs amount.worker.vcpu ≥ 100000", "8")
