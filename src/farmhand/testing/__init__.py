"""Test helpers for farmhand and for people testing their own bundles against a real farm."""

from ._local_farm import LocalFarm
from ._server_process import ServerProcess
from ._worker_process import WorkerProcess, server_environment

__all__ = ["LocalFarm", "ServerProcess", "WorkerProcess", "server_environment"]
