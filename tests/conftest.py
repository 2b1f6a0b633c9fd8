"""Shared fixtures: one real farm server per test session, real boto3 clients against it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from farmhand.testing import ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A farm server shared by the integration tests of one session (SQLite)."""
    with ServerProcess(tmp_path_factory.mktemp("server")) as proc:
        yield proc


@pytest.fixture(scope="session")
def deadline(server: ServerProcess) -> Any:
    return server.client("deadline")


@pytest.fixture
def farm_id(deadline: Any) -> str:
    return str(deadline.create_farm(displayName="test farm")["farmId"])


# --- PostgreSQL: a throw-away cluster, and servers parametrised over both stores -------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A PostgreSQL cluster for the session; skips where the server binaries are absent."""
    from _postgres import PostgresCluster, find_postgres_bin, unavailable_reason

    reason = unavailable_reason()
    bin_dir = find_postgres_bin()
    if reason is not None or bin_dir is None:
        pytest.skip(reason or "PostgreSQL not available")
    cluster = PostgresCluster(bin_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_cluster: Any) -> str:
    """A fresh, empty PostgreSQL database URL (postgresql+psycopg://...)."""
    return str(pg_cluster.new_database())


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server_any(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The shared SQLite server, then a server on PostgreSQL: store-dependent tests run against both."""
    if request.param == "sqlite":
        yield request.getfixturevalue("server")
        return
    url = request.getfixturevalue("pg_cluster").new_database()
    with ServerProcess(tmp_path_factory.mktemp("server-pg"), database_url=url) as proc:
        yield proc


@pytest.fixture(scope="session")
def deadline_any(server_any: ServerProcess) -> Any:
    return server_any.client("deadline")


# --- S3: the farm's object store, and SeaweedFS as the reference S3 implementation -----------------


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """SeaweedFS (`weed mini`) on loopback for the session, with an admin identity."""
    from _seaweedfs import SeaweedFS

    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store


@pytest.fixture(scope="session")
def farm_s3(server: ServerProcess) -> Any:
    """boto3's S3 client with its default configuration, signed with the farm's admin key."""
    return server.boto3_session().client("s3", endpoint_url=server.url)
