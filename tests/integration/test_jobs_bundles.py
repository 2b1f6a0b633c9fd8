"""Every test bundle and template is accepted, with the steps and tasks openjd-model itself computes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openjd.model import (
    DocumentType,
    StepParameterSpaceIterator,
    create_job,
    decode_job_template,
    document_string_to_object,
    preprocess_job_parameters,
)
from test_jobs_api import make_queue

from farmhand.server.jobs import SUPPORTED_EXTENSIONS

pytestmark = pytest.mark.timeout(300)

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def sample_templates() -> list[Path]:
    found = [p for p in BUNDLES.rglob("template.*") if p.suffix in (".yaml", ".yml", ".json")]
    found += sorted((BUNDLES / "templates").glob("*.yaml"))
    return sorted(set(found))


def sample_value(definition: dict[str, Any]) -> dict[str, str]:
    """A value a required parameter accepts, in the API's union form."""
    kind = definition["type"]
    if definition.get("allowedValues"):
        choice = str(definition["allowedValues"][0])
    elif kind == "INT":
        choice = str(definition.get("minValue", 1))
    elif kind == "FLOAT":
        choice = str(definition.get("minValue", 1.0))
    elif kind == "PATH":
        choice = "/tmp/farmhand-sample"
    else:
        choice = "x" * int(definition.get("minLength", 1))
    member = {"INT": "int", "FLOAT": "float", "PATH": "path"}.get(kind, "string")
    return {member: choice}


TEMPLATES = sample_templates()


@pytest.mark.parametrize(
    "path",
    TEMPLATES,
    ids=[str(p.relative_to(BUNDLES)) if BUNDLES in p.parents else p.name for p in TEMPLATES],
)
def test_sample_template_is_accepted_with_openjd_task_counts(deadline: Any, farm_id: str, path: Path) -> None:
    # Given a sample template and values for its required parameters
    text = path.read_text()
    template_type = "JSON" if path.suffix == ".json" else "YAML"
    document = document_string_to_object(document=text, document_type=DocumentType[template_type])
    parameters = {
        d["name"]: sample_value(d) for d in document.get("parameterDefinitions") or [] if "default" not in d
    }
    queue_id = make_queue(deadline, farm_id)
    # When it is submitted
    job_id = deadline.create_job(
        farmId=farm_id,
        queueId=queue_id,
        template=text,
        templateType=template_type,
        priority=50,
        parameters=parameters,
    )["jobId"]
    # Then the steps and their task counts are what openjd-model's own iterator gives
    template = decode_job_template(template=document, supported_extensions=SUPPORTED_EXTENSIONS)
    values = preprocess_job_parameters(
        job_template=template,
        job_parameter_values={k: next(iter(v.values())) for k, v in parameters.items()},
        job_template_dir=path.parent,
        current_working_dir=path.parent,
        allow_job_template_dir_walk_up=True,
    )
    expected = {
        s.name: len(StepParameterSpaceIterator(space=s.parameterSpace))
        for s in create_job(job_template=template, job_parameter_values=values).steps
    }
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    steps = deadline.list_steps(**ids)["steps"]
    assert [s["name"] for s in steps] == list(expected)
    for listed in steps:
        counts = listed["taskRunStatusCounts"]
        assert sum(counts.values()) == expected[listed["name"]]
    job = deadline.get_job(**ids)
    assert job["lifecycleStatus"] == "CREATE_COMPLETE"
    assert sum(job["taskRunStatusCounts"].values()) == sum(expected.values())


def test_an_extension_the_template_cannot_use_is_a_readable_error(deadline: Any, farm_id: str) -> None:
    # Given a template using chunked task parameters without declaring the TASK_CHUNKING extension
    text = (
        "specificationVersion: jobtemplate-2023-09\nname: chunky\nsteps:\n- name: S\n  parameterSpace:\n"
        "    taskParameterDefinitions:\n    - name: F\n      type: CHUNK[INT]\n      range: 1-10\n"
        "      chunks: {defaultTaskCount: 4, rangeConstraint: CONTIGUOUS}\n"
        "  script: {actions: {onRun: {command: echo}}}\n"
    )
    queue_id = make_queue(deadline, farm_id)
    from botocore.exceptions import ClientError

    # When it is submitted, Then the error says what is wrong
    with pytest.raises(ClientError) as info:
        deadline.create_job(farmId=farm_id, queueId=queue_id, template=text, templateType="YAML", priority=50)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert (
        "CHUNK[INT]" in info.value.response["Error"]["Message"]
        or "TASK_CHUNKING" in info.value.response["Error"]["Message"]
    )
    # And with the extension declared, the chunks become tasks with chunkInt parameters
    job_id = deadline.create_job(
        farmId=farm_id,
        queueId=queue_id,
        template="extensions: [TASK_CHUNKING]\n" + text,
        templateType="YAML",
        priority=50,
    )["jobId"]
    ids = {"farmId": farm_id, "queueId": queue_id, "jobId": job_id}
    step = deadline.list_steps(**ids)["steps"][0]
    tasks = deadline.list_tasks(**ids, stepId=step["stepId"])["tasks"]
    assert [t["parameters"]["F"]["chunkInt"] for t in tasks] == ["1-4", "5-7", "8-10"]
    space = deadline.get_step(**ids, stepId=step["stepId"])["parameterSpace"]
    assert space["parameters"] == [
        {"name": "F", "type": "CHUNK_INT", "chunks": {"defaultTaskCount": 4, "rangeConstraint": "CONTIGUOUS"}}
    ]
