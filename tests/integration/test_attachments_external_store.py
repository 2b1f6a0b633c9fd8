"""Queue buckets in an external store (SeaweedFS): what only an external store can get wrong.

The behaviour both stores share is in `test_attachments_stores`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from _seaweedfs_sts import SeaweedSTS
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)

BUCKET = "render-attachments"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedSTS]:
    with SeaweedSTS(tmp_path_factory.mktemp("seaweed")) as running:
        yield running


def test_a_stores_file_others_can_read_is_refused(store: SeaweedSTS, tmp_path: Path) -> None:
    stores = store.stores_file(tmp_path / "stores.toml", [BUCKET])
    os.chmod(stores, 0o644)
    server = ServerProcess(tmp_path / "data", extra_args=["--object-stores", str(stores)])
    with pytest.raises(RuntimeError) as info:
        server.start(timeout=30)
    assert "chmod 600" in str(info.value)


def test_an_unreachable_store_is_a_retryable_fault_and_the_farm_keeps_serving(
    store: SeaweedSTS, tmp_path: Path
) -> None:
    # Given a farm whose store is configured at an address nothing listens on
    stores = store.stores_file(tmp_path / "stores.toml", [BUCKET])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    stores.write_text(stores.read_text().replace(store.url, dead))
    with ServerProcess(tmp_path / "data", extra_args=["--object-stores", str(stores)]) as server:
        deadline = server.client("deadline", retries={"max_attempts": 1})
        farm_id = deadline.create_farm(displayName="dead store")["farmId"]
        queue_id = deadline.create_queue(
            farmId=farm_id,
            displayName="q",
            jobAttachmentSettings={"s3BucketName": BUCKET, "rootPrefix": "p"},
        )["queueId"]
        # When queue credentials are asked for
        with pytest.raises(ClientError) as info:
            deadline.assume_queue_role_for_user(farmId=farm_id, queueId=queue_id)
        # Then the answer is the fault clients and the AWS agent retry, naming the store
        assert info.value.response["Error"]["Code"] == "InternalServerException"
        assert "seaweed" in info.value.response["Error"]["Message"]
        # And the farm keeps serving
        assert deadline.get_queue(farmId=farm_id, queueId=queue_id)["displayName"] == "q"
