"""Test helpers for farmhand and for people testing their own bundles against a real farm."""

from ._local_farm import LocalFarm
from ._server_process import ServerProcess

__all__ = ["LocalFarm", "ServerProcess"]
