"""Template instantiation and bulk task writing, checked against openjd-model's own iterator."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from openjd.model import StepParameterSpaceIterator
from sqlalchemy import select

from farmhand.server._ids import new_id
from farmhand.server.jobs import (
    _writer,
    insert_job_rows,
    plan_job,
    task_parameter_texts,
    write_tasks_inline,
    write_tasks_later,
)
from farmhand.server.protocol import ValidationError
from farmhand.server.store import Store, jobs, steps, tasks

pytestmark = pytest.mark.timeout(60)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def template(*steps: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {"specificationVersion": "jobtemplate-2023-09", "name": "J", "steps": list(steps), **extra}
    )


def step(name: str, space: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "script": {"actions": {"onRun": {"command": "echo"}}}}
    if space:
        out["parameterSpace"] = space
    return out


def plan(text: str, **kwargs: Any) -> Any:
    job_id = new_id("job")
    result, _ = plan_job(
        job_id=job_id,
        template_text=text,
        template_type="JSON",
        parameters=kwargs.pop("parameters", {}),
        queue_environments=[],
        new_step_id=lambda: new_id("step"),
        **kwargs,
    )
    return job_id, result


SPACES = [
    {"taskParameterDefinitions": [{"name": "F", "type": "INT", "range": "1-20:3"}]},
    {"taskParameterDefinitions": [{"name": "F", "type": "INT", "range": [5, 1, 3]}]},
    {"taskParameterDefinitions": [{"name": "S", "type": "STRING", "range": ['a"b', "c\\d"]}]},
    {
        "taskParameterDefinitions": [
            {"name": "X", "type": "FLOAT", "range": [1.5, 2]},
            {"name": "P", "type": "PATH", "range": ["/a", "/b"]},
        ]
    },
    {
        "taskParameterDefinitions": [
            {"name": "A", "type": "INT", "range": "1-3"},
            {"name": "B", "type": "INT", "range": "1-2"},
            {"name": "C", "type": "STRING", "range": ["x", "y"]},
        ],
        "combination": "A * (B, C)",
    },
]


@pytest.mark.parametrize(
    "space", SPACES, ids=["int-range", "int-list", "quoted-strings", "float-path-product", "association"]
)
def test_task_parameters_follow_openjd_iteration(space: dict[str, Any]) -> None:
    # Given a step parameter space, When its tasks' parameters are produced
    _, result = plan(template(step("S", space)))
    produced = [json.loads(t) for t in task_parameter_texts(result.steps[0].space)]
    # Then they are openjd-model's own iteration, in order, in the API's union form
    member = {"INT": "int", "FLOAT": "float", "STRING": "string", "PATH": "path"}
    expected = [
        {name: {member[v.type.value]: v.value} for name, v in params.items()}
        for params in StepParameterSpaceIterator(space=result.steps[0].space)
    ]
    assert produced == expected
    assert result.steps[0].task_count == len(expected)


def test_large_job_written_in_chunks_has_every_task_counted(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plan of 2,345 tasks and chunks of 1,000
    monkeypatch.setattr(_writer, "CHUNK_SIZE", 1_000)
    job_id, result = plan(
        template(
            step("A", {"taskParameterDefinitions": [{"name": "F", "type": "INT", "range": "1-2345"}]}),
            {**step("B"), "dependencies": [{"dependsOn": "A"}]},
        )
    )
    ids = {"job_id": job_id, "farm_id": "farm-1", "queue_id": "queue-1"}
    with store.write() as conn:
        insert_job_rows(
            conn,
            result,
            now=NOW,
            by="me",
            fields={"priority": 1, "template": "{}", "template_type": "JSON"},
            **ids,
        )
    # When the tasks are written the background way
    write_tasks_later(store.write, result, now=NOW, **ids)
    # Then the job is complete, counters match, and the last task has the last frame
    with store.read() as conn:
        job = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).one()
        assert (job.lifecycle_status, job.count_ready, job.count_pending, job.task_run_status) == (
            "CREATE_COMPLETE",
            2345,
            1,
            "READY",
        )
        a = conn.execute(select(steps).where(steps.c.name == "A")).one()
        last = conn.execute(select(tasks).where(tasks.c.task_id == f"task-{a.step_id[5:]}-2344")).one()
        assert last.parameters == {"F": {"int": "2345"}} and last.run_status == "READY"
        assert conn.execute(select(tasks.c.task_id).where(tasks.c.job_id == job_id)).all().__len__() == 2346


def test_inline_write_of_a_suspended_job(store: Store) -> None:
    job_id, result = plan(template(step("A", SPACES[0])), suspended=True)
    ids = {"job_id": job_id, "farm_id": "farm-1", "queue_id": "queue-1"}
    with store.write() as conn:
        insert_job_rows(
            conn,
            result,
            now=NOW,
            by="me",
            fields={"priority": 1, "template": "{}", "template_type": "JSON"},
            **ids,
        )
        write_tasks_inline(conn, result, now=NOW, **ids)
        job = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).one()
    assert (job.task_run_status, job.count_suspended) == ("SUSPENDED", 7)


def test_resolved_parameters_carry_defaults_and_list_types() -> None:
    # Given EXPR-typed and plain parameters, some left to their defaults
    text = template(
        step("A"),
        extensions=["EXPR"],
        parameterDefinitions=[
            {"name": "N", "type": "INT", "default": 3},
            {"name": "Frames", "type": "LIST[INT]"},
            {"name": "Flag", "type": "BOOL", "default": True},
        ],
    )
    # When it is planned with a list value
    _, result = plan(text, parameters={"Frames": {"intList": ["1", "2"]}})
    # Then every parameter is resolved in union form
    assert result.resolved_parameters == {
        "N": {"int": "3"},
        "Frames": {"intList": ["1", "2"]},
        "Flag": {"bool": "true"},
    }
    assert result.extensions == ["EXPR"]


def test_wrong_union_member_names_the_parameter() -> None:
    with pytest.raises(ValidationError) as info:
        plan(
            template(step("A"), parameterDefinitions=[{"name": "N", "type": "INT"}]),
            parameters={"N": {"float": "1.5"}},
        )
    assert "parameters.N" in info.value.message and "int" in info.value.message


@pytest.mark.parametrize("frames", ["1-20:3", "20-15:-2", "1-5,10,7-9", "42", "-3-3"])
@pytest.mark.parametrize("chunk", [2, 1_000])
def test_database_generated_tasks_match_openjd(
    store: Store, monkeypatch: pytest.MonkeyPatch, frames: str, chunk: int
) -> None:
    # Given a one-range step whose tasks the database generates, in chunks of `chunk`
    monkeypatch.setattr(_writer, "CHUNK_SIZE", chunk)
    job_id, result = plan(
        template(step("A", {"taskParameterDefinitions": [{"name": "F", "type": "INT", "range": frames}]}))
    )
    ids = {"job_id": job_id, "farm_id": "farm-1", "queue_id": "queue-1"}
    with store.write() as conn:
        insert_job_rows(
            conn,
            result,
            now=NOW,
            by="me",
            fields={"priority": 1, "template": "{}", "template_type": "JSON"},
            **ids,
        )
    # When the tasks are written
    write_tasks_later(store.write, result, now=NOW, **ids)
    # Then ids, indices and values are openjd-model's iteration exactly
    with store.read() as conn:
        rows = conn.execute(select(tasks).where(tasks.c.job_id == job_id).order_by(tasks.c.task_index)).all()
    expected = [p["F"].value for p in StepParameterSpaceIterator(space=result.steps[0].space)]
    assert [r.parameters["F"]["int"] for r in rows] == expected
    assert [r.task_id for r in rows] == [
        f"task-{result.steps[0].step_id[5:]}-{i}" for i in range(len(expected))
    ]
    assert {r.created_at for r in rows} == {NOW}


def test_expr_templates_keep_openjd_symbol_tables_for_the_worker(store: Store) -> None:
    # Given an EXPR template whose step binds a value with `let`
    text = template(
        {**step("A"), "let": ["double = Param.N * 2"]},
        extensions=["EXPR"],
        parameterDefinitions=[{"name": "N", "type": "INT", "default": 3}],
    )
    # When it is planned and written
    job_id, result = plan(text)
    ids = {"job_id": job_id, "farm_id": "farm-1", "queue_id": "queue-1"}
    with store.write() as conn:
        insert_job_rows(
            conn,
            result,
            now=NOW,
            by="me",
            fields={"priority": 1, "template": text, "template_type": "JSON"},
            **ids,
        )
        step_row = conn.execute(select(steps).where(steps.c.job_id == job_id)).one()
        job_row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).one()
    # Then the job and the step carry openjd's serialized symbol tables (JSON text)
    assert json.loads(step_row.resolved_symbol_table) and json.loads(job_row.resolved_symbol_table)
    assert "double" in step_row.resolved_symbol_table


def test_templates_without_expr_store_no_symbol_tables() -> None:
    _, result = plan(template(step("A")))
    assert result.resolved_symbol_table is None and result.steps[0].resolved_symbol_table is None
