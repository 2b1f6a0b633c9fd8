"""What the worker tells the farm about its host: name, addresses, and capabilities for host requirements."""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import socket
import sys
from typing import Any

import psutil

_HOST_NAME = re.compile(r"[^a-zA-Z0-9_.\-]")


def os_family() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def cpu_arch() -> str:
    machine = platform.machine().lower()
    return "arm64" if machine in ("arm64", "aarch64") else "x86_64"


def ip_addresses() -> dict[str, list[str]]:
    """Non-loopback addresses first; IPv6 fully expanded and upper case, as the service expects."""
    v4: list[str] = []
    v6: list[str] = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            text = address.address.split("%", 1)[0]
            if address.family == socket.AF_INET:
                v4.append(str(ipaddress.IPv4Address(text)))
            elif address.family == socket.AF_INET6:
                v6.append(ipaddress.IPv6Address(text).exploded.upper())

    def ordered(values: list[str]) -> list[str]:
        unique = list(dict.fromkeys(values))
        return sorted(unique, key=lambda a: ipaddress.ip_address(a).is_loopback)

    return {"ipV4Addresses": ordered(v4), "ipV6Addresses": ordered(v6)}


def host_properties() -> dict[str, Any]:
    name = _HOST_NAME.sub("-", socket.gethostname())[:255]
    return {"hostName": name, "ipAddresses": ip_addresses()}


def capabilities() -> dict[str, Any]:
    """The attributes and amounts the scheduler matches step host requirements against."""
    memory_mib = psutil.virtual_memory().total // (1024 * 1024)
    return {
        "amounts": [
            {"name": "amount.worker.vcpu", "value": float(os.cpu_count() or 1)},
            {"name": "amount.worker.memory", "value": float(memory_mib)},
        ],
        "attributes": [
            {"name": "attr.worker.os.family", "values": [os_family()]},
            {"name": "attr.worker.cpu.arch", "values": [cpu_arch()]},
        ],
    }
