"""The status enums are the botocore model's, value for value, and the groups are made of them."""

from __future__ import annotations

from enum import StrEnum

import botocore.session
import pytest

from farmhand import statuses

MODEL = botocore.session.get_session().get_service_model("deadline")
ENUMS = [getattr(statuses, name) for name in statuses.__all__ if isinstance(getattr(statuses, name), type)]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_each_enum_has_the_models_values_in_its_order(enum: type[StrEnum]) -> None:
    assert [member.value for member in enum] == list(MODEL.shape_for(enum.__name__).enum)
    assert all(member == member.name for member in enum)


def test_the_groups_are_made_of_their_enums_members() -> None:
    task = set(statuses.TaskRunStatus)
    for group in (
        statuses.TERMINAL_TASK_RUN_STATUSES,
        statuses.BLOCKING_TASK_RUN_STATUSES,
        statuses.HELD_TASK_RUN_STATUSES,
        statuses.ACTIVE_TASK_RUN_STATUSES,
    ):
        assert set(group) <= task and len(set(group)) == len(group)
    assert set(statuses.ONLINE_WORKER_STATUSES) <= set(statuses.WorkerStatus)
    assert set(statuses.FINISHED_SESSION_ACTION_STATUSES) <= set(statuses.SessionActionStatus)
    # Every status is active, terminal or PENDING: nothing falls between
    assert (
        set(statuses.ACTIVE_TASK_RUN_STATUSES)
        | set(statuses.TERMINAL_TASK_RUN_STATUSES)
        | {statuses.TaskRunStatus.PENDING}
        == task
    )
    assert statuses.ONLINE_WORKER_STATUSES == ("STARTED", "IDLE", "RUNNING")
