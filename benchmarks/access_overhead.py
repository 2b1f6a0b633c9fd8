"""Access checks: the same calls signed by the admin and by callers whose access is looked up.

The admin's calls skip membership lookups; a farm user's calls read its memberships (and groups),
queue credentials check that their queue still exists. Each pair is measured in alternating batches
of 100 calls on one server, so machine load weighs on both alike; the ratio is what the checks cost.

    python benchmarks/access_overhead.py            # 2000 calls per operation and caller
    python benchmarks/access_overhead.py --quick    # 200
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
from api_latency import _measure_alternately, _row  # the sibling benchmark's alternation

from farmhand._models import add_models_to
from farmhand.server._identity import record_access_key
from farmhand.server._ids import new_access_key_id, new_secret
from farmhand.testing import ServerProcess


def _user_session(server: ServerProcess, name: str) -> tuple[str, boto3.Session]:
    """A farm user (identity API) with a key of its own, as signing in gives one."""
    admin = server.boto3_session()
    add_models_to(admin._session)
    principal_id = server.client("farmhand-identity", session=admin).create_user(userName=name)["principalId"]
    key_id, secret = new_access_key_id(temporary=False), new_secret()
    store = server.open_store()  # the farm's secret attached: keys are stored sealed
    try:
        with store.write() as conn:
            record_access_key(conn, principal_id, key_id, secret)
    finally:
        store.dispose()
    return principal_id, boto3.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-west-2"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 calls per operation instead of 2000")
    parser.add_argument("--calls", type=int, default=None, help="calls per operation")
    args = parser.parse_args()
    count = args.calls or (200 if args.quick else 2000)

    with tempfile.TemporaryDirectory() as data_dir, ServerProcess(Path(data_dir)) as server:
        admin = server.client("deadline")
        farm_id = admin.create_farm(displayName="benchmark farm")["farmId"]
        queues = [admin.create_queue(farmId=farm_id, displayName=f"queue {i}")["queueId"] for i in range(10)]
        store_id = admin.list_farm_members(farmId=farm_id)["members"][0]["identityStoreId"]
        owner_id, owner_session = _user_session(server, "owner")
        admin.associate_member_to_farm(
            farmId=farm_id,
            principalId=owner_id,
            principalType="USER",
            identityStoreId=store_id,
            membershipLevel="OWNER",
        )
        viewer_id, viewer_session = _user_session(server, "viewer")
        admin.associate_member_to_queue(
            farmId=farm_id,
            queueId=queues[0],
            principalId=viewer_id,
            principalType="USER",
            identityStoreId=store_id,
            membershipLevel="VIEWER",
        )
        reader_credentials = admin.assume_queue_role_for_read(farmId=farm_id, queueId=queues[0])[
            "credentials"
        ]
        reader_session = boto3.Session(
            aws_access_key_id=reader_credentials["accessKeyId"],
            aws_secret_access_key=reader_credentials["secretAccessKey"],
            aws_session_token=reader_credentials["sessionToken"],
            region_name="us-west-2",
        )
        owner = server.client("deadline", session=owner_session)
        viewer = server.client("deadline", session=viewer_session)
        reader = server.client("deadline", session=reader_session)
        print(
            f"{count} calls per operation and caller, one boto3 client per caller, loopback, SQLite; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        pairs: list[tuple[str, str, Any, Any]] = [
            (
                "GetFarm",
                "farm OWNER",
                lambda: owner.get_farm(farmId=farm_id),
                lambda: admin.get_farm(farmId=farm_id),
            ),
            (
                "ListQueues (10 queues)",
                "farm OWNER",
                lambda: owner.list_queues(farmId=farm_id),
                lambda: admin.list_queues(farmId=farm_id),
            ),
            (
                "ListQueues (10 queues)",
                "queue VIEWER",
                lambda: viewer.list_queues(farmId=farm_id),
                lambda: admin.list_queues(farmId=farm_id),
            ),
            (
                "GetQueue",
                "queue-read credentials",
                lambda: reader.get_queue(farmId=farm_id, queueId=queues[0]),
                lambda: admin.get_queue(farmId=farm_id, queueId=queues[0]),
            ),
        ]
        for operation, who, checked_call, admin_call in pairs:
            checked, unchecked = _measure_alternately(checked_call, admin_call, count)
            print(_row(f"{operation} admin", unchecked))
            print(_row(f"{operation} {who}", checked))
            print(f"{'':<32} {who} / admin p50: {checked['p50_ms'] / unchecked['p50_ms']:.3f}")


if __name__ == "__main__":
    main()
