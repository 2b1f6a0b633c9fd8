"""What the worker reports about its host validates against the Deadline Cloud model."""

from __future__ import annotations

import re

from botocore.session import Session

from farmhand.server.protocol import validate
from farmhand.worker._host import capabilities, host_properties


def _member(operation: str, name: str) -> object:
    model = Session().get_service_model("deadline")
    return model.operation_model(operation).input_shape.members[name]


def test_host_properties_and_capabilities_fit_the_model() -> None:
    host = host_properties()
    caps = capabilities()
    validate(_member("CreateWorker", "hostProperties"), host)
    validate(_member("UpdateWorker", "capabilities"), caps)
    # IPv6 addresses are sent fully expanded and upper case, as the model's pattern requires
    for address in host["ipAddresses"]["ipV6Addresses"]:
        assert re.fullmatch(r"(?:[A-F0-9]{1,4}:){7}[A-F0-9]{1,4}", address)
    names = {a["name"] for a in caps["attributes"]} | {a["name"] for a in caps["amounts"]}
    assert names == {
        "attr.worker.os.family",
        "attr.worker.cpu.arch",
        "amount.worker.vcpu",
        "amount.worker.memory",
    }
    amounts = {a["name"]: a["value"] for a in caps["amounts"]}
    assert amounts["amount.worker.vcpu"] >= 1
    assert amounts["amount.worker.memory"] > 64
