"""Job bundles: loading, parameter merging with queue environments, CreateJob parameter forms."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from farmhand.client.exceptions import DeadlineOperationError
from farmhand.client.job_bundle import (
    AssetReferences,
    apply_job_parameters,
    check_bundle_containment,
    merge_queue_job_parameters,
    read_asset_references,
    read_job_bundle_parameters,
    read_job_template,
    split_parameter_args,
    validate_job_template,
    write_debug_snapshot,
)

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"

TEMPLATE = """\
specificationVersion: jobtemplate-2023-09
name: Bundle
parameterDefinitions:
- name: Frames
  type: INT
  minValue: 1
  maxValue: 100
  default: 3
- name: Quality
  type: STRING
  allowedValues: [low, high]
  default: low
- name: Scene
  type: PATH
  objectType: FILE
  dataFlow: IN
  default: scene.txt
- name: OutDir
  type: PATH
  objectType: DIRECTORY
  dataFlow: OUT
- name: Ratio
  type: FLOAT
  default: 0.5
- name: Denoise
  type: BOOL
  default: false
- name: Sizes
  type: LIST[INT]
  default: [1, 2]
steps:
- name: Render
  script:
    actions:
      onRun:
        command: echo
"""


def bundle(tmp_path: Path, template: str = TEMPLATE, **files: str) -> Path:
    directory = tmp_path / "bundle"
    directory.mkdir(exist_ok=True)
    (directory / "template.yaml").write_text(template)
    for name, text in files.items():
        (directory / name.replace("__", ".")).write_text(textwrap.dedent(text))
    return directory


def resolved(directory: Path, caller: list[dict[str, Any]], queue: list[dict[str, Any]] | None = None) -> Any:
    template = read_job_template(directory)
    parameters = merge_queue_job_parameters(
        read_job_bundle_parameters(directory, template), queue or [], "queue-1"
    )
    references = apply_job_parameters(caller, parameters, read_asset_references(directory))
    return split_parameter_args(parameters, directory), references


# -- loading -----------------------------------------------------------------------------------------


def test_a_directory_without_a_template_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DeadlineOperationError, match=r"lacks a template\.json or template\.yaml"):
        read_job_template(tmp_path)


def test_two_templates_are_an_error(tmp_path: Path) -> None:
    directory = bundle(tmp_path, template__json="{}")
    with pytest.raises(DeadlineOperationError, match=r"both template\.json and template\.yaml"):
        read_job_template(directory)


def test_unparseable_and_unsupported_templates(tmp_path: Path) -> None:
    with pytest.raises(DeadlineOperationError, match=r"Error loading 'template\.yaml'"):
        read_job_template(bundle(tmp_path, "a: [unclosed"))
    with pytest.raises(DeadlineOperationError, match="unsupported specificationVersion"):
        read_job_template(bundle(tmp_path, "specificationVersion: jobtemplate-1999\n"))


def test_template_text_is_sent_verbatim_unless_renamed(tmp_path: Path) -> None:
    directory = bundle(tmp_path, "# keep me\n" + TEMPLATE)
    template = read_job_template(directory)
    assert template.text.startswith("# keep me")
    assert template.template_type == "YAML"
    renamed = template.with_name("Other")
    assert renamed.document["name"] == "Other"
    assert "name: Other" in renamed.text


def test_validation_errors_name_the_field(tmp_path: Path) -> None:
    directory = bundle(tmp_path, TEMPLATE.replace("command: echo", "comand: echo"))
    with pytest.raises(DeadlineOperationError) as info:
        validate_job_template(read_job_template(directory))
    # One line a terminal can show, naming the field and the problem
    assert "\n" not in str(info.value)
    assert "steps[0] -> script -> actions -> onRun -> command: Field required" in str(info.value)


def test_the_test_bundles_load_and_validate() -> None:
    for name in ("greeting", "directory_script", "every_control", "two_stage_with_data"):
        template = read_job_template(BUNDLES / name)
        validate_job_template(template)
        assert read_job_bundle_parameters(BUNDLES / name, template) is not None


def test_a_symlink_leaving_the_bundle_is_refused(tmp_path: Path) -> None:
    directory = bundle(tmp_path)
    (directory / "escape").symlink_to(tmp_path.parent)
    with pytest.raises(DeadlineOperationError, match="outside of the job bundle directory"):
        check_bundle_containment(directory)


def test_asset_references_resolve_against_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = bundle(
        tmp_path,
        asset_references__yaml="""\
        assetReferences:
          inputs:
            filenames: [data/a.txt]
            directories: [/abs/in]
          outputs:
            directories: [out]
          referencedPaths: [ref]
        """,
    )
    monkeypatch.chdir("/")
    references = read_asset_references(directory)
    assert references.input_filenames == {str(directory / "data" / "a.txt")}
    assert references.input_directories == {"/abs/in"}
    assert references.output_directories == {str(directory / "out")}
    assert references.referenced_paths == {str(directory / "ref")}


# -- parameters -------------------------------------------------------------------------------------


def test_create_job_parameter_forms(tmp_path: Path) -> None:
    directory = bundle(tmp_path)
    (app, parameters), _ = resolved(
        directory,
        [
            {"name": "Frames", "value": "7"},
            {"name": "Ratio", "value": 2},
            {"name": "Denoise", "value": "yes"},
            {"name": "Sizes", "value": "[5, 6]"},
            {"name": "OutDir", "value": "/renders/out"},
        ],
    )
    assert app == {}
    assert parameters["Frames"] == {"int": "7"}
    assert parameters["Ratio"] == {"float": "2"}
    assert parameters["Denoise"] == {"bool": "true"}
    assert parameters["Sizes"] == {"intList": ["5", "6"]}
    assert parameters["OutDir"] == {"path": "/renders/out"}
    assert parameters["Scene"] == {"path": str(directory / "scene.txt")}
    # A parameter relying on its template default is left to the service
    assert "Quality" not in parameters


def test_relative_path_values_resolve_against_the_bundle_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Section 8, defect 6: PATH values from parameter_values stayed relative to the working directory
    directory = bundle(
        tmp_path,
        parameter_values__yaml="""\
        parameterValues:
        - name: OutDir
          value: renders
        """,
    )
    monkeypatch.chdir("/")
    (_, parameters), references = resolved(directory, [])
    assert parameters["OutDir"] == {"path": str(directory / "renders")}
    assert references.output_directories == {str(directory / "renders")}
    assert references.input_filenames == {str(directory / "scene.txt")}


def test_caller_relative_paths_resolve_against_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = bundle(tmp_path)
    monkeypatch.chdir(tmp_path)
    (_, parameters), _ = resolved(directory, [{"name": "OutDir", "value": "mine"}])
    assert parameters["OutDir"] == {"path": str(tmp_path / "mine")}


def test_unknown_caller_parameter_is_an_error(tmp_path: Path) -> None:
    # Section 8, defect 6: unknown caller names were silently ignored
    with pytest.raises(DeadlineOperationError, match=r"no parameter named 'Frmaes'.*Frames"):
        resolved(bundle(tmp_path), [{"name": "Frmaes", "value": "1"}, {"name": "OutDir", "value": "/o"}])


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Frames", "many", "needs an integer"),
        ("Frames", "500", "at most 100"),
        ("Quality", "medium", "must be one of"),
        ("Ratio", "x", "needs a number"),
        ("Denoise", "perhaps", "needs true or false"),
        ("Sizes", "[1, 2", "needs a list"),
    ],
)
def test_wrong_values_are_clear_errors(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(DeadlineOperationError, match=message):
        resolved(bundle(tmp_path), [{"name": name, "value": value}, {"name": "OutDir", "value": "/o"}])


def test_a_parameter_without_value_or_default_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        DeadlineOperationError, match="No parameter value provided for Job Template parameter OutDir"
    ):
        resolved(bundle(tmp_path), [])


def test_app_parameters_become_create_job_fields(tmp_path: Path) -> None:
    directory = bundle(
        tmp_path,
        parameter_values__yaml="""\
        parameterValues:
        - name: deadline:priority
          value: 70
        - name: deadline:targetTaskRunStatus
          value: SUSPENDED
        - name: othertool:setting
          value: ignored
        """,
    )
    (app, parameters), _ = resolved(directory, [{"name": "OutDir", "value": "/o"}])
    assert app == {"priority": 70, "targetTaskRunStatus": "SUSPENDED"}
    assert "othertool:setting" not in parameters


def test_unknown_deadline_app_parameter_is_an_error(tmp_path: Path) -> None:
    directory = bundle(
        tmp_path,
        parameter_values__yaml="""\
        parameterValues:
        - name: deadline:nonsense
          value: 1
        """,
    )
    with pytest.raises(DeadlineOperationError, match="Unrecognized parameter named 'deadline:nonsense'"):
        resolved(directory, [{"name": "OutDir", "value": "/o"}])


def test_queue_environment_parameters_are_merged(tmp_path: Path) -> None:
    queue = [
        {"name": "CondaPackages", "type": "STRING", "default": "blender"},
        {"name": "Frames", "type": "INT", "minValue": 1, "maxValue": 100, "default": 10},
    ]
    (_, parameters), _ = resolved(
        bundle(tmp_path),
        [{"name": "CondaPackages", "value": "nuke"}, {"name": "OutDir", "value": "/o"}],
        queue,
    )
    assert parameters["CondaPackages"] == {"string": "nuke"}
    # A shared name with an equivalent definition relies on the (bundle's) default
    assert "Frames" not in parameters


def test_conflicting_queue_definitions_are_reported_together(tmp_path: Path) -> None:
    queue = [
        {"name": "Frames", "type": "STRING", "default": "x"},
        {"name": "Ratio", "type": "INT", "default": 1},
    ]
    with pytest.raises(DeadlineOperationError, match="conflicting parameter definitions") as info:
        resolved(bundle(tmp_path), [{"name": "OutDir", "value": "/o"}], queue)
    assert "Frames" in str(info.value) and "Ratio" in str(info.value)


def test_bundle_value_for_an_undefined_parameter_is_an_error(tmp_path: Path) -> None:
    directory = bundle(
        tmp_path,
        parameter_values__yaml="""\
        parameterValues:
        - name: Missing
          value: 1
        """,
    )
    with pytest.raises(DeadlineOperationError, match='undefined parameter "Missing"'):
        resolved(directory, [])


def test_hidden_parameter_needs_a_value(tmp_path: Path) -> None:
    template = TEMPLATE.replace(
        "- name: OutDir\n",
        "- name: Secret\n  type: STRING\n  userInterface:\n    control: HIDDEN\n- name: OutDir\n",
    )
    with pytest.raises(DeadlineOperationError, match='Hidden parameter "Secret" is missing a value'):
        read_job_bundle_parameters(bundle(tmp_path, template), read_job_template(bundle(tmp_path, template)))


def test_absolute_path_default_is_refused(tmp_path: Path) -> None:
    directory = bundle(tmp_path, TEMPLATE.replace("default: scene.txt", "default: /etc/passwd"))
    with pytest.raises(DeadlineOperationError, match="is absolute"):
        read_job_bundle_parameters(directory, read_job_template(directory))


# -- debug snapshot ---------------------------------------------------------------------------------


def test_debug_snapshot_files(tmp_path: Path) -> None:
    arguments = {
        "farmId": "farm-1",
        "queueId": "queue-1",
        "template": "line1\nline2\n",
        "templateType": "YAML",
        "priority": 50,
        "maxRetriesPerTask": 5,
        "parameters": {"Frames": {"int": "7"}},
    }
    snapshot = write_debug_snapshot(
        tmp_path / "snap", arguments, {"displayName": "Q", "ResponseMetadata": {}}
    )
    assert json.loads((snapshot / "create_job_args.json").read_text()) == arguments
    assert json.loads((snapshot / "parameters_param.json").read_text()) == {"Frames": {"int": "7"}}
    assert (snapshot / "template_param.data").read_text() == "line1\nline2\n"
    assert json.loads((snapshot / "queue.json").read_text()) == {"displayName": "Q"}
    script = (snapshot / "submit_job.sh").read_text()
    assert "set -xeuo pipefail" in script
    assert "--max-retries-per-task 5" in script and "--template file://template_param.data" in script
    assert (snapshot / "submit_job.bat").exists()


def test_asset_references_round_trip() -> None:
    references = AssetReferences({"/a"}, {"/b"}, {"/c"}, {"/d"})
    assert references.to_dict()["assetReferences"]["inputs"] == {"filenames": ["/a"], "directories": ["/b"]}
    assert references.has_paths() and not AssetReferences().has_paths()
