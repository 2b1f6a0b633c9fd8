"""The store itself on SQLite and PostgreSQL: migrations, transactions, column types, keyset paging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from farmhand.server.farm_secret import FarmSecret, attach_farm_secret
from farmhand.server.handlers._common import page
from farmhand.server.protocol import ValidationError
from farmhand.server.store import Store, resources, sqlite_url

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    opened = Store(url)
    attach_farm_secret(opened, FarmSecret.generate())
    try:
        yield opened
    finally:
        opened.dispose()


def _insert(store: Store, resource_id: str, created_at: dt.datetime, doc: dict[str, object]) -> None:
    with store.write() as conn:
        conn.execute(
            resources.insert().values(
                kind="thing", resource_id=resource_id, farm_id="farm", created_at=created_at, doc=doc
            )
        )


def test_documents_and_timestamps_round_trip(store: Store) -> None:
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    doc = {"name": "ünïcode", "nested": {"list": [1, 2.5, None, True]}}
    _insert(store, "r1", moment, doc)
    with store.read() as conn:
        row = conn.execute(select(resources.c.doc, resources.c.created_at)).one()
    assert row.doc == doc
    assert row.created_at == moment
    assert row.created_at.tzinfo is not None


def test_a_failed_write_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute(
            resources.insert().values(
                kind="thing", resource_id="r2", created_at=dt.datetime.now(dt.UTC), doc={}
            )
        )
        raise RuntimeError("abort")
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(resources)).scalar() == 0


def test_migrations_apply_once(store: Store) -> None:
    _insert(store, "kept", dt.datetime.now(dt.UTC), {})
    reopened = Store(store.url)
    try:
        with reopened.read() as conn:
            assert conn.execute(select(resources.c.resource_id)).scalars().all() == ["kept"]
    finally:
        reopened.dispose()


def test_the_migrations_create_every_index_the_schema_declares_with_its_condition(store: Store) -> None:
    # Given a store migrated to the head revision
    from sqlalchemy import inspect

    from farmhand.server.store._schema import metadata

    with store.read() as conn:
        inspector = inspect(conn)
        for table in metadata.sorted_tables:
            # Then each table has the indexes the schema declares, and partial ones are partial
            found = {ix["name"]: ix for ix in inspector.get_indexes(table.name)}
            for index in table.indexes:
                assert index.name in found, f"{table.name}: {index.name} missing"
                declared = index.dialect_options[conn.dialect.name]["where"]
                stored = found[index.name].get("dialect_options", {}).get(f"{conn.dialect.name}_where")
                assert (declared is None) == (stored is None), f"{index.name}: where {stored!r}"


def test_keyset_pages_cover_rows_with_equal_timestamps_exactly_once(store: Store) -> None:
    # Given 25 rows, in groups that share a creation time
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for index in range(25):
        _insert(store, f"r{index:02d}", base + dt.timedelta(seconds=index // 4), {"i": index})
    # When they are read seven at a time with the opaque token
    order = [resources.c.created_at, resources.c.resource_id]
    seen: list[str] = []
    params: dict[str, object] = {"maxResults": 7}
    while True:
        with store.read() as conn:
            rows, token = page(conn, select(resources.c.resource_id, *order), order, params)
        seen += [row.resource_id for row in rows]
        if token is None:
            break
        params = {"maxResults": 7, "nextToken": token}
    # Then every row comes once, in (created_at, id) order
    assert seen == [f"r{index:02d}" for index in range(25)]


def test_a_paging_token_the_store_did_not_mint_is_refused(store: Store) -> None:
    # Given a page of a list and a token that is well-formed but forged ([{}, -1], unsigned)
    _insert(store, "r1", dt.datetime(2024, 1, 1, tzinfo=dt.UTC), {})
    order = [resources.c.created_at, resources.c.resource_id]
    forged = "W3t9LC0xXQ"
    # When it is used, Then it never reaches the query: a ValidationException names nextToken
    with store.read() as conn, pytest.raises(ValidationError) as refused:
        page(conn, select(resources.c.resource_id, *order), order, {"nextToken": forged})
    assert refused.value.fields["fieldList"][0]["name"] == "nextToken"


def test_tasks_rekeyed_by_step_and_index_keep_their_rows(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Revision 0004 moves the tasks' key to (step_id, task_index) on a database holding tasks."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, text

    from farmhand.server.store import metadata, steps, task_is, tasks
    from farmhand.server.store._migrate import upgrade

    for url in (sqlite_url(tmp_path), request.getfixturevalue("pg_cluster").new_database()):
        # Given a store at revision 0003 holding three tasks of one step
        engine = create_engine(url)
        upgrade(engine, "0003")
        step = "step-" + "b" * 32
        with engine.begin() as conn:
            for index in range(3):
                conn.execute(
                    text(
                        "INSERT INTO tasks (task_id, step_id, job_id, queue_id, farm_id, task_index,"
                        " run_status, failure_retry_count, created_at)"
                        " VALUES (:t, :s, 'job-1', 'queue-1', 'farm-1', :i, 'READY', 0, 1.0)"
                    ),
                    {"t": f"task-{'b' * 32}-{index}", "s": step, "i": index},
                )
        engine.dispose()
        # When the store opens (migrating to the head revision)
        store = Store(url)
        try:
            with store.read() as conn:
                # Then the schema is exactly what the code declares, and every task is found by its id
                assert compare_metadata(MigrationContext.configure(conn), metadata) == []
                assert conn.execute(select(func.count()).select_from(tasks)).scalar() == 3
                found = conn.execute(select(tasks.c.task_index).where(task_is(f"task-{'b' * 32}-2"))).all()
                assert [row.task_index for row in found] == [2]
                assert conn.execute(select(steps.c.ready_from)).all() == []  # the column exists
        finally:
            store.dispose()
