"""A farm with members of every level and every kind of scoped credentials, for the access tests.

Farm users are created through the identity API and given a long-lived key in the server's store
(standing in for a sign-in), then memberships through the Deadline API like any farm user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from _management import store_of
from _synthetic_workers import SyntheticWorker, farm_with_fleet, job_template, step, submit
from botocore.exceptions import ClientError

from farmhand._models import add_models_to
from farmhand.server._identity import record_access_key
from farmhand.server._ids import new_access_key_id, new_secret
from farmhand.testing import ServerProcess

LEVELS = ("OWNER", "MANAGER", "CONTRIBUTOR", "VIEWER")


def session_of(credentials: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials.get("sessionToken"),
        region_name="us-west-2",
    )


@dataclass
class User:
    name: str
    principal_id: str
    session: boto3.Session


def create_user(server: ServerProcess, name: str) -> User:
    """A farm user (through the identity API) with a long-lived key of its own written into the store."""
    admin = server.boto3_session()
    add_models_to(admin._session)
    identity = server.client("farmhand-identity", session=admin)
    principal_id = identity.create_user(userName=f"{name}-{uuid.uuid4().hex[:8]}")["principalId"]
    key_id, secret = new_access_key_id(temporary=False), new_secret()
    store = store_of(server)
    try:
        with store.write() as conn:
            record_access_key(conn, principal_id, key_id, secret)
    finally:
        store.dispose()
    return User(name, principal_id, session_of({"accessKeyId": key_id, "secretAccessKey": secret}))


def error_code(call: Any, **params: Any) -> str | None:
    """The AWS error code a call answers, or None when it succeeds."""
    try:
        call(**params)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


@dataclass
class World:
    """Farm F with queue Q (job J) and fleet FL (worker W), a second queue Q2 (job J2) and fleet FL2."""

    server: ServerProcess
    admin: Any
    farm: str
    queue: str
    fleet: str
    job: str
    other_queue: str
    other_fleet: str
    other_job: str
    worker: SyntheticWorker
    other_worker: SyntheticWorker
    identity_store: str
    users: dict[str, User] = field(default_factory=dict)
    # Who calls, by name: admin, OWNER..VIEWER, none, other-queue, queue-read, fleet-read, other-worker.
    sessions: dict[str, boto3.Session] = field(default_factory=dict)

    def client(self, who: str, service: str = "deadline") -> Any:
        session = self.sessions[who]
        add_models_to(session._session)  # the farm's own identity API, beside the AWS models
        return self.server.client(service, session=session)

    def grant(self, user: User, level: str, *, on: str = "farm") -> None:
        ids: dict[str, str] = {"farmId": self.farm}
        call = self.admin.associate_member_to_farm
        if on == "queue":
            ids["queueId"], call = self.queue, self.admin.associate_member_to_queue
        elif on == "fleet":
            ids["fleetId"], call = self.fleet, self.admin.associate_member_to_fleet
        elif on == "job":
            ids["queueId"], ids["jobId"] = self.queue, self.job
            call = self.admin.associate_member_to_job
        call(
            **ids,
            principalId=user.principal_id,
            principalType="USER",
            identityStoreId=self.identity_store,
            membershipLevel=level,
        )


def build_world(server: ServerProcess) -> World:
    admin = server.client("deadline")
    farm, queue, fleet = farm_with_fleet(admin)
    other_queue = admin.create_queue(farmId=farm, displayName="other queue")["queueId"]
    other_fleet = admin.create_fleet(
        farmId=farm,
        displayName="other fleet",
        roleArn="arn:aws:iam::123456789012:role/farmhand-fleet",
        maxWorkerCount=10,
        configuration=admin.get_fleet(farmId=farm, fleetId=fleet)["configuration"],
    )["fleetId"]
    admin.create_queue_fleet_association(farmId=farm, queueId=other_queue, fleetId=other_fleet)
    template = job_template(step("A", 2))
    job = submit(admin, farm, queue, template)
    other_job = submit(admin, farm, other_queue, template)
    identity_store = admin.list_farm_members(farmId=farm)["members"][0]["identityStoreId"]
    world = World(
        server=server,
        admin=admin,
        farm=farm,
        queue=queue,
        fleet=fleet,
        job=job,
        other_queue=other_queue,
        other_fleet=other_fleet,
        other_job=other_job,
        worker=SyntheticWorker(server, farm, fleet),
        other_worker=SyntheticWorker(server, farm, other_fleet),
        identity_store=identity_store,
    )
    sessions = world.sessions
    sessions["admin"] = server.boto3_session()
    for level in LEVELS:
        user = create_user(server, level.lower())
        world.grant(user, level)
        world.users[level] = user
        sessions[level] = user.session
    stranger = create_user(server, "stranger")
    world.users["none"] = stranger
    sessions["none"] = stranger.session
    sessions["other-queue"] = session_of(
        admin.assume_queue_role_for_user(farmId=farm, queueId=other_queue)["credentials"]
    )
    sessions["queue-read"] = session_of(
        admin.assume_queue_role_for_read(farmId=farm, queueId=queue)["credentials"]
    )
    sessions["fleet-read"] = session_of(
        admin.assume_fleet_role_for_read(farmId=farm, fleetId=fleet)["credentials"]
    )
    sessions["other-worker"] = session_of(world.other_worker.credentials)
    return world
