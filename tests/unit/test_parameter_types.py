"""The one parameter-type table agrees with openjd-model and with the botocore model."""

from __future__ import annotations

import botocore.session
from openjd.model import ParameterValueType

from farmhand.parameter_types import (
    JOB_PARAMETER_MEMBERS,
    OPENJD_TYPE_OF_MEMBER,
    STEP_PARAMETER_TYPE_NAMES,
    TASK_PARAMETER_MEMBERS,
    UNION_MEMBER_OF_TYPE,
)

MODEL = botocore.session.get_session().get_service_model("deadline")


def test_every_openjd_type_has_one_union_member() -> None:
    assert set(UNION_MEMBER_OF_TYPE) == {t.value for t in ParameterValueType}
    assert len(OPENJD_TYPE_OF_MEMBER) == len(UNION_MEMBER_OF_TYPE)


def test_the_members_are_the_models_unions() -> None:
    assert set(JOB_PARAMETER_MEMBERS.values()) == set(MODEL.shape_for("JobParameter").members)
    assert set(TASK_PARAMETER_MEMBERS.values()) == set(MODEL.shape_for("TaskParameterValue").members)
    assert set(STEP_PARAMETER_TYPE_NAMES.values()) == set(MODEL.shape_for("StepParameterType").enum)
    # And a step's type names are openjd's enum names
    assert all(ParameterValueType(t).name == name for t, name in STEP_PARAMETER_TYPE_NAMES.items())
