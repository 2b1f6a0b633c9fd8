"""Memberships and roles on every call: levels, inheritance, grants, scoped credentials, revocation."""

from __future__ import annotations

from typing import Any

import pytest
from _access_world import World, build_world, create_user, error_code, session_of
from _synthetic_workers import SyntheticWorker, job_template, step, submit

from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)

DENIED = "AccessDeniedException"


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> World:
    return build_world(server)


def test_the_creator_of_a_farm_is_its_owner(world: World) -> None:
    members = world.admin.list_farm_members(farmId=world.farm)["members"]
    creator = [m for m in members if m["membershipLevel"] == "OWNER" and m["principalId"] == "admin"]
    assert creator and creator[0]["principalType"] == "USER"


def test_levels_inherit_from_the_farm_to_its_queues_fleets_and_jobs(world: World) -> None:
    viewer = world.client("VIEWER")
    # A farm VIEWER reads the farm, its queues, fleets and jobs
    assert viewer.get_farm(farmId=world.farm)["farmId"] == world.farm
    assert viewer.get_queue(farmId=world.farm, queueId=world.other_queue)["queueId"] == world.other_queue
    assert viewer.get_fleet(farmId=world.farm, fleetId=world.fleet)["fleetId"] == world.fleet
    assert viewer.get_job(farmId=world.farm, queueId=world.queue, jobId=world.job)["jobId"] == world.job
    # But changes nothing and submits nothing
    assert (
        error_code(viewer.update_job, farmId=world.farm, queueId=world.queue, jobId=world.job, priority=1)
        == DENIED
    )
    assert error_code(viewer.assume_queue_role_for_user, farmId=world.farm, queueId=world.queue) == DENIED
    assert world.admin.get_job(farmId=world.farm, queueId=world.queue, jobId=world.job)["priority"] != 1


def test_a_queue_member_sees_only_that_queue(world: World) -> None:
    # Given a user who is a CONTRIBUTOR of queue Q only
    user = create_user(world.server, "queue-only")
    world.grant(user, "CONTRIBUTOR", on="queue")
    client = world.server.client("deadline", session=user.session)
    # Then it reads and submits to Q
    assert client.get_queue(farmId=world.farm, queueId=world.queue)["queueId"] == world.queue
    assert client.assume_queue_role_for_user(farmId=world.farm, queueId=world.queue)["credentials"]
    # But not the other queue, the farm's fleets or the farm itself
    assert error_code(client.get_queue, farmId=world.farm, queueId=world.other_queue) == DENIED
    assert error_code(client.get_fleet, farmId=world.farm, fleetId=world.fleet) == DENIED
    assert error_code(client.get_farm, farmId=world.farm) == DENIED
    # And lists hold only what it may see: Q in the farm's queues, the farm not among its farms
    assert [q["queueId"] for q in client.list_queues(farmId=world.farm)["queues"]] == [world.queue]
    assert world.farm not in [f["farmId"] for f in client.list_farms()["farms"]]
    assert client.list_fleets(farmId=world.farm)["fleets"] == []
    # And it may not list on another principal's behalf
    assert (
        error_code(client.list_queues, farmId=world.farm, principalId=world.users["OWNER"].principal_id)
        == DENIED
    )


def test_a_contributor_changes_the_jobs_it_submitted_and_no_other(world: World) -> None:
    # Given a CONTRIBUTOR of the farm who submits a job
    contributor = world.users["CONTRIBUTOR"]
    client = world.client("CONTRIBUTOR")
    own = submit(client, world.farm, world.queue, job_template(step("A", 1)))
    # Then it is the job's OWNER
    members = world.admin.list_job_members(farmId=world.farm, queueId=world.queue, jobId=own)["members"]
    assert [(m["principalId"], m["membershipLevel"]) for m in members] == [
        (contributor.principal_id, "OWNER")
    ]
    # And it may change and cancel that job
    client.update_job(farmId=world.farm, queueId=world.queue, jobId=own, priority=7)
    client.update_job(farmId=world.farm, queueId=world.queue, jobId=own, targetTaskRunStatus="CANCELED")
    changed = world.admin.get_job(farmId=world.farm, queueId=world.queue, jobId=own)
    assert changed["priority"] == 7 and changed["taskRunStatus"] == "CANCELED"
    # But not a job someone else submitted
    code = error_code(client.update_job, farmId=world.farm, queueId=world.queue, jobId=world.job, priority=7)
    assert code == DENIED


def test_a_job_member_reads_that_job_only(world: World) -> None:
    user = create_user(world.server, "job-only")
    world.grant(user, "VIEWER", on="job")
    client = world.server.client("deadline", session=user.session)
    assert client.get_job(farmId=world.farm, queueId=world.queue, jobId=world.job)["jobId"] == world.job
    jobs = client.list_jobs(farmId=world.farm, queueId=world.queue)["jobs"]
    assert [j["jobId"] for j in jobs] == [world.job]
    assert error_code(client.get_queue, farmId=world.farm, queueId=world.queue) == DENIED


def test_lists_and_searches_return_only_what_the_caller_may_see(world: World) -> None:
    stranger = world.client("none")
    assert world.farm not in [f["farmId"] for f in stranger.list_farms()["farms"]]
    assert stranger.list_queues(farmId=world.farm)["queues"] == []
    assert stranger.list_jobs(farmId=world.farm, queueId=world.queue)["jobs"] == []
    code = error_code(stranger.search_jobs, farmId=world.farm, queueIds=[world.queue], itemOffset=0)
    assert code == DENIED
    # Queue credentials search their queue, never a list naming another
    reader = world.client("queue-read")
    found = reader.search_jobs(farmId=world.farm, queueIds=[world.queue], itemOffset=0)["jobs"]
    assert {j["jobId"] for j in found} >= {world.job}
    code = error_code(
        reader.search_jobs, farmId=world.farm, queueIds=[world.queue, world.other_queue], itemOffset=0
    )
    assert code == DENIED


def test_batch_identifiers_of_other_queues_are_denied_one_by_one(world: World) -> None:
    reader = world.client("queue-read")
    answer = reader.batch_get_job(
        identifiers=[
            {"farmId": world.farm, "queueId": world.queue, "jobId": world.job},
            {"farmId": world.farm, "queueId": world.other_queue, "jobId": world.other_job},
        ]
    )
    assert [j["jobId"] for j in answer["jobs"]] == [world.job]
    assert [(e["jobId"], e["code"]) for e in answer["errors"]] == [(world.other_job, DENIED)]


def test_a_contributor_cannot_grant_itself_owner(world: World) -> None:
    contributor = world.users["CONTRIBUTOR"]
    client = world.client("CONTRIBUTOR")
    code = error_code(
        client.associate_member_to_farm,
        farmId=world.farm,
        principalId=contributor.principal_id,
        principalType="USER",
        identityStoreId=world.identity_store,
        membershipLevel="OWNER",
    )
    assert code == DENIED
    levels = {
        m["principalId"]: m["membershipLevel"]
        for m in world.admin.list_farm_members(farmId=world.farm)["members"]
    }
    assert levels[contributor.principal_id] == "CONTRIBUTOR"


def test_a_manager_grants_up_to_manager_but_never_owner(world: World) -> None:
    manager = world.client("MANAGER")
    newcomer = create_user(world.server, "newcomer")
    grant: dict[str, Any] = {
        "farmId": world.farm,
        "queueId": world.queue,
        "principalId": newcomer.principal_id,
        "principalType": "USER",
        "identityStoreId": world.identity_store,
    }
    # A MANAGER makes a newcomer MANAGER of a queue
    manager.associate_member_to_queue(**grant, membershipLevel="MANAGER")
    # But neither OWNER, nor itself OWNER
    assert error_code(manager.associate_member_to_queue, **grant, membershipLevel="OWNER") == DENIED
    self_grant = {**grant, "principalId": world.users["MANAGER"].principal_id}
    assert error_code(manager.associate_member_to_queue, **self_grant, membershipLevel="OWNER") == DENIED
    # And it cannot demote or remove an OWNER
    owner = world.users["OWNER"].principal_id
    assert error_code(manager.disassociate_member_from_farm, farmId=world.farm, principalId=owner) == DENIED
    members = world.admin.list_queue_members(farmId=world.farm, queueId=world.queue)["members"]
    assert {m["principalId"]: m["membershipLevel"] for m in members}[newcomer.principal_id] == "MANAGER"
    # While an OWNER may grant OWNER
    world.client("OWNER").associate_member_to_queue(**grant, membershipLevel="OWNER")
    world.client("OWNER").disassociate_member_from_queue(
        farmId=world.farm, queueId=world.queue, principalId=newcomer.principal_id
    )


def test_queue_credentials_get_no_other_credentials_and_make_no_management_calls(world: World) -> None:
    queue_user = world.server.client(
        "deadline",
        session=session_of(
            world.admin.assume_queue_role_for_user(farmId=world.farm, queueId=world.queue)["credentials"]
        ),
    )
    ids = {"farmId": world.farm}
    # No self-renewal, no other queue's credentials, no worker's
    assert error_code(queue_user.assume_queue_role_for_user, **ids, queueId=world.queue) == DENIED
    assert error_code(queue_user.assume_queue_role_for_user, **ids, queueId=world.other_queue) == DENIED
    assert error_code(queue_user.assume_queue_role_for_read, **ids, queueId=world.queue) == DENIED
    worker_ids = {**ids, "fleetId": world.fleet, "workerId": world.worker.worker_id}
    assert error_code(queue_user.assume_fleet_role_for_worker, **worker_ids) == DENIED
    assert error_code(queue_user.assume_queue_role_for_worker, **worker_ids, queueId=world.queue) == DENIED
    # No management calls, even on its own queue
    assert error_code(queue_user.create_farm, displayName="mine") == DENIED
    assert error_code(queue_user.update_queue, **ids, queueId=world.queue, displayName="x") == DENIED
    assert (
        error_code(
            queue_user.create_queue_fleet_association, **ids, queueId=world.queue, fleetId=world.other_fleet
        )
        == DENIED
    )
    # But it reads its queue and submits to it
    assert queue_user.get_job(**ids, queueId=world.queue, jobId=world.job)["jobId"] == world.job


def test_queue_credentials_cannot_become_another_fleets_worker_and_fake_success(
    server: ServerProcess,
) -> None:
    """The escalation a probe found: queue-user credentials got worker credentials of any fleet's worker,
    and with them marked another queue's job SUCCEEDED without running it."""
    # Given two queues, each served by its own fleet, and a job waiting in the victim queue
    world = build_world(server)
    attacker = world.server.client(
        "deadline",
        session=session_of(
            world.admin.assume_queue_role_for_user(farmId=world.farm, queueId=world.other_queue)[
                "credentials"
            ]
        ),
    )
    victim_worker = world.worker.worker_id
    # When the attacker's queue credentials ask for the victim fleet's worker credentials
    code = error_code(
        attacker.assume_fleet_role_for_worker, farmId=world.farm, fleetId=world.fleet, workerId=victim_worker
    )
    # Then they are denied
    assert code == DENIED
    # And the attacker cannot register a worker there either
    assert (
        error_code(
            attacker.create_worker, farmId=world.farm, fleetId=world.fleet, hostProperties={"hostName": "x"}
        )
        == DENIED
    )
    # And a worker of the attacker's fleet cannot report the victim's work as done
    victim = SyntheticWorker(world.server, world.farm, world.fleet)
    victim_sessions = victim.poll()["assignedSessions"]
    (session_id, session) = next(iter(victim_sessions.items()))
    action_id = session["sessionActions"][0]["sessionActionId"]
    other = world.other_worker
    fake = {action_id: {"completedStatus": "SUCCEEDED", "processExitCode": 0, "endedAt": other_now()}}
    code = error_code(
        other.client.update_worker_schedule,
        farmId=world.farm,
        fleetId=world.fleet,
        workerId=victim.worker_id,
        updatedSessionActions=fake,
    )
    assert code == DENIED
    other.client.update_worker_schedule(**other.ids(), updatedSessionActions=fake)
    # And the victim's job has succeeded nothing
    job = world.admin.get_job(farmId=world.farm, queueId=world.queue, jobId=world.job)
    assert job["taskRunStatusCounts"].get("SUCCEEDED", 0) == 0
    action = world.admin.get_session_action(
        farmId=world.farm, queueId=world.queue, jobId=world.job, sessionActionId=action_id
    )
    assert action["status"] != "SUCCEEDED"
    assert session_id


def other_now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def test_workers_reach_only_their_own_worker_and_sessions(world: World) -> None:
    other = world.other_worker.client
    victim_ids = {"farmId": world.farm, "fleetId": world.fleet, "workerId": world.worker.worker_id}
    assert error_code(other.update_worker, **victim_ids, status="STOPPED") == DENIED
    assert error_code(other.get_worker, **victim_ids) == DENIED
    assert (
        error_code(other.assume_queue_role_for_worker, **{**world.other_worker.ids(), "queueId": world.queue})
        == DENIED
    )
    # Worker credentials submit nothing and read no jobs
    assert error_code(other.get_job, farmId=world.farm, queueId=world.queue, jobId=world.job) == DENIED
    logs = world.server.client("logs", session=session_of(world.other_worker.credentials))
    code = error_code(
        logs.put_log_events,
        logGroupName=f"/aws/deadline/{world.farm}/{world.queue}",
        logStreamName="session-" + "0" * 32,
        logEvents=[{"timestamp": 1, "message": "forged"}],
    )
    assert code == DENIED
    # But a worker writes its own log stream
    mine = world.other_worker.ids()
    logs.put_log_events(
        logGroupName=f"/aws/deadline/{world.farm}/{world.other_fleet}",
        logStreamName=mine["workerId"],
        logEvents=[{"timestamp": int(other_now().timestamp() * 1000), "message": "hello"}],
    )


def test_deleting_a_queue_fleet_or_worker_revokes_its_credentials_at_once(server: ServerProcess) -> None:
    world = build_world(server)
    admin, farm = world.admin, world.farm
    queue = admin.create_queue(farmId=farm, displayName="short-lived")["queueId"]
    reader = world.server.client(
        "deadline",
        session=session_of(admin.assume_queue_role_for_read(farmId=farm, queueId=queue)["credentials"]),
    )
    assert reader.get_queue(farmId=farm, queueId=queue)["queueId"] == queue
    admin.delete_queue(farmId=farm, queueId=queue)
    assert error_code(reader.get_queue, farmId=farm, queueId=queue) == DENIED
    assert error_code(reader.list_jobs, farmId=farm, queueId=queue) == DENIED
    # A deleted worker's credentials stop working too
    worker = SyntheticWorker(world.server, farm, world.fleet)
    worker.client.update_worker(**worker.ids(), status="STOPPED")
    admin.delete_worker(**worker.ids())
    assert (
        error_code(worker.client.update_worker_schedule, **worker.ids(), updatedSessionActions={}) == DENIED
    )


def test_principal_ids_filter_lists_for_a_user_and_for_a_groups_member(world: World) -> None:
    """The admin lists what a principal may see through each `principalId` filter; a user through a
    group it belongs to sees what the group was given; a user may name itself."""
    admin, server = world.admin, world.server
    identity = world.client("admin", "farmhand-identity")
    queue_member = create_user(server, "queue-member")
    world.grant(queue_member, "VIEWER", on="queue")
    fleet_member = create_user(server, "fleet-member")
    world.grant(fleet_member, "VIEWER", on="fleet")
    job_member = create_user(server, "job-member")
    world.grant(job_member, "VIEWER", on="job")
    group_member = create_user(server, "group-member")
    group_name = f"renderers-{group_member.principal_id[-8:]}"
    group = identity.create_group(groupName=group_name)["principalId"]
    user_name = next(
        u["userName"] for u in identity.list_users()["users"] if u["principalId"] == group_member.principal_id
    )
    identity.add_group_member(groupName=group_name, userName=user_name)
    admin.associate_member_to_queue(
        farmId=world.farm,
        queueId=world.other_queue,
        principalId=group,
        principalType="GROUP",
        identityStoreId=world.identity_store,
        membershipLevel="CONTRIBUTOR",
    )

    def farms(principal: str) -> set[str]:
        return {f["farmId"] for f in admin.list_farms(principalId=principal)["farms"]}

    def queues(principal: str) -> set[str]:
        return {q["queueId"] for q in admin.list_queues(farmId=world.farm, principalId=principal)["queues"]}

    def fleets(principal: str) -> set[str]:
        return {f["fleetId"] for f in admin.list_fleets(farmId=world.farm, principalId=principal)["fleets"]}

    def jobs(principal: str, queue: str) -> set[str]:
        listed = admin.list_jobs(farmId=world.farm, queueId=queue, principalId=principal)["jobs"]
        return {j["jobId"] for j in listed}

    # A farm member sees the farm and everything in it
    viewer = world.users["VIEWER"].principal_id
    assert world.farm in farms(viewer)
    assert queues(viewer) >= {world.queue, world.other_queue}
    assert fleets(viewer) >= {world.fleet, world.other_fleet}
    assert jobs(viewer, world.queue) >= {world.job}
    # A queue member: that queue and its jobs only (not the farm in its farm list, as in Deadline Cloud)
    assert world.farm not in farms(queue_member.principal_id)
    assert queues(queue_member.principal_id) == {world.queue}
    assert fleets(queue_member.principal_id) == set()
    assert jobs(queue_member.principal_id, world.queue) >= {world.job}
    assert jobs(queue_member.principal_id, world.other_queue) == set()
    # A fleet member: that fleet only; a job member: that job only
    assert fleets(fleet_member.principal_id) == {world.fleet}
    assert queues(fleet_member.principal_id) == set()
    assert jobs(job_member.principal_id, world.queue) == {world.job}
    assert queues(job_member.principal_id) == set()
    # A group's member sees what the group was given, as does the group itself
    for principal in (group_member.principal_id, group):
        assert queues(principal) == {world.other_queue}
        assert jobs(principal, world.other_queue) >= {world.other_job}
        assert jobs(principal, world.queue) == set()
    # The members lists name the principal at its level
    members = admin.list_queue_members(farmId=world.farm, queueId=world.other_queue)["members"]
    assert {(m["principalId"], m["principalType"], m["membershipLevel"]) for m in members} >= {
        (group, "GROUP", "CONTRIBUTOR")
    }
    # A user naming itself gets the same answer; naming another is refused
    own = server.client("deadline", session=group_member.session)
    listed = own.list_queues(farmId=world.farm, principalId=group_member.principal_id)["queues"]
    assert {q["queueId"] for q in listed} == {world.other_queue}
    code = error_code(own.list_queues, farmId=world.farm, principalId=queue_member.principal_id)
    assert code == DENIED
