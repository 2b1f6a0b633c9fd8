"""Validation and serialisation driven by the real botocore `deadline` model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from farmhand.server.protocol import (
    MissingMemberError,
    ValidationError,
    format_timestamp,
    serialize,
    service_model,
    validate,
)

MODEL = service_model("deadline")


def _input(operation: str) -> Any:
    return MODEL.operation_model(operation).input_shape


def _output(operation: str) -> Any:
    return MODEL.operation_model(operation).output_shape


def _problem(operation: str, value: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        validate(_input(operation), value)
    field = info.value.fields["fieldList"][0]
    return field["name"], info.value.fields["reason"]


def test_a_valid_request_passes_and_unknown_members_are_dropped() -> None:
    params = validate(_input("CreateFarm"), {"displayName": "farm", "costScaleFactor": 50, "future": 1})
    assert params == {"displayName": "farm", "costScaleFactor": 50.0}


def test_required_members() -> None:
    assert _problem("CreateFarm", {}) == ("displayName", "FIELD_VALIDATION_FAILED")


def test_maximum_lengths() -> None:
    assert _problem("CreateFarm", {"displayName": "x" * 101})[0] == "displayName"


def test_enums() -> None:
    name, _ = _problem(
        "CreateStorageProfile", {"farmId": "farm-" + "a" * 32, "displayName": "s", "osFamily": "BEOS"}
    )
    assert name == "osFamily"


def test_patterns() -> None:
    assert _problem("GetFarm", {"farmId": "farm-XYZ"})[0] == "farmId"


def test_integer_ranges() -> None:
    assert _problem("ListFarms", {"maxResults": 101})[0] == "maxResults"
    assert _problem("ListFarms", {"maxResults": 0})[0] == "maxResults"
    assert validate(_input("ListFarms"), {"maxResults": 100}) == {"maxResults": 100}


def test_nested_members_are_named_by_path() -> None:
    value = {
        "farmId": "farm-" + "a" * 32,
        "displayName": "q",
        "jobAttachmentSettings": {"s3BucketName": "bucket"},
    }
    assert _problem("CreateQueue", value)[0] == "jobAttachmentSettings.rootPrefix"


def test_unions_take_exactly_one_member() -> None:
    base = {
        "farmId": "farm-" + "a" * 32,
        "displayName": "f",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "maxWorkerCount": 1,
    }
    assert _problem("CreateFleet", {**base, "configuration": {}})[0] == "configuration"


def test_types_are_checked() -> None:
    assert _problem("CreateFarm", {"displayName": 5})[0] == "displayName"
    assert _problem("ListFarms", {"maxResults": "5"})[0] == "maxResults"
    assert _problem("ListFarms", {"maxResults": True})[0] == "maxResults"


def test_timestamps_arrive_as_aware_datetimes() -> None:
    shape = MODEL.shape_for("StartedAt")
    assert validate(shape, "2024-01-02T03:04:05Z") == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert validate(shape, "2024-01-02T03:04:05.123456Z").microsecond == 123456
    with pytest.raises(ValidationError):
        validate(shape, "yesterday")


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.678Z",
        "2024-01-02T03:04:05.678901Z",
        "2024-01-02T05:04:05+02:00",
        "2024-01-02T03:04:05.5-01:30",
        "2024-01-02T03:04:05",
        "20240102T030405Z",
        "Tue, 02 Jan 2024 03:04:05 GMT",
        "1704164645",
        "1704164645.678",
    ],
)
def test_timestamps_read_quickly_mean_what_botocore_reads(text: str) -> None:
    # Given a timestamp in a form an SDK or a hand-written request may send
    from botocore.utils import parse_timestamp

    expected = parse_timestamp(text)
    expected = expected if expected.tzinfo else expected.replace(tzinfo=dt.UTC)
    # When the model validates it, Then it is the same instant as botocore's parser gives
    parsed = validate(MODEL.shape_for("StartedAt"), text)
    assert parsed.tzinfo is not None
    assert parsed == expected


@pytest.mark.parametrize("text", ["2024-13-02T03:04:05Z", "2024-01-02T25:04:05Z", "2024-01-02T03:04:05Zjunk"])
def test_impossible_iso_timestamps_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        validate(MODEL.shape_for("StartedAt"), text)


def test_timestamps_leave_with_an_explicit_zone() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert format_timestamp(moment) == "2024-01-02T03:04:05.678Z"
    assert format_timestamp(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"
    assert format_timestamp(moment.timestamp()) == "2024-01-02T03:04:05.678Z"
    assert format_timestamp("2024-01-02T05:04:05+02:00") == "2024-01-02T03:04:05.000Z"
    assert format_timestamp("2024-01-02T03:04:05.678Z") == "2024-01-02T03:04:05.678Z"
    assert format_timestamp("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05.000Z"


def test_serialize_formats_members_and_drops_unknown_ones() -> None:
    farm = {
        "farmId": "farm-" + "a" * 32,
        "displayName": "farm",
        "costScaleFactor": 100.0,
        "createdAt": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        "createdBy": "arn:aws:iam::1:user/admin",
        "internal": "not a model member",
        "description": None,
    }
    body = serialize(_output("GetFarm"), farm)
    assert body["createdAt"] == "2024-01-02T00:00:00.000Z"
    assert "internal" not in body
    assert "description" not in body


def test_serialize_refuses_an_output_without_a_required_member() -> None:
    with pytest.raises(MissingMemberError, match="createdBy"):
        serialize(
            _output("GetFarm"),
            {
                "farmId": "farm-" + "a" * 32,
                "displayName": "f",
                "costScaleFactor": 1.0,
                "createdAt": "2024-01-01T00:00:00Z",
            },
        )


def test_serialize_checks_required_members_of_list_items() -> None:
    with pytest.raises(MissingMemberError, match="status"):
        serialize(
            _output("ListQueues"),
            {"queues": [{"farmId": "f", "queueId": "q", "displayName": "d", "defaultBudgetAction": "NONE"}]},
        )


def test_every_bad_field_is_reported_at_once_like_botocores_param_validator() -> None:
    # Given a request with several bad fields, some of which botocore's own validator also finds
    from botocore.validate import ParamValidator

    shape = _input("CreateQueue")
    params = {
        "displayName": 5,
        "jobAttachmentSettings": {"rootPrefix": "x"},
        "allowedStorageProfileIds": ["sp-nothex", 7],
        "description": "fine",
    }
    # When it is validated
    with pytest.raises(ValidationError) as info:
        validate(shape, params)
    # Then one error names each bad field, in the order of the request
    fields = info.value.fields["fieldList"]
    assert [f["name"] for f in fields] == [
        "farmId",
        "displayName",
        "jobAttachmentSettings.s3BucketName",
        "allowedStorageProfileIds[0]",
        "allowedStorageProfileIds[1]",
    ]
    assert str(info.value.args[0]).startswith("5 validation errors: farmId: is required; displayName:")
    # And every field botocore's ParamValidator finds is among them (it checks no patterns)
    report = ParamValidator().validate(params, shape)
    botocore_names = {
        ".".join(filter(None, (name.lstrip("."), extra["required_name"])))
        if kind == "missing required field"
        else name.lstrip(".")
        for kind, name, extra in report._errors
    }
    assert botocore_names == {f["name"] for f in fields} - {"allowedStorageProfileIds[0]"}


def test_a_field_reports_its_first_problem_only_and_the_list_is_bounded() -> None:
    from farmhand.server.protocol._shapes import MAX_REPORTED_PROBLEMS

    # A display name too long is not also reported for what else is wrong with it
    assert _problem("CreateFarm", {"displayName": "x" * 101}) == ("displayName", "FIELD_VALIDATION_FAILED")
    # A thousand bad entries are counted, and the first hundred named
    tags = {f"tag{n}": n for n in range(1000)}
    with pytest.raises(ValidationError) as info:
        validate(_input("CreateFarm"), {"displayName": "farm", "tags": tags})
    assert len(info.value.fields["fieldList"]) == MAX_REPORTED_PROBLEMS
    assert "(the first 100 of 1000)" in str(info.value.args[0])
