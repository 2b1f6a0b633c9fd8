"""Secrets stay private: the data directory is its owner's alone, the database holds no usable
credential, and the database URL and farm secret never show in `ps` or reach the workers."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from _worker_farm import Farm, job_template, step
from sqlalchemy import select

from _workstation import Workstation, workstation
from farmhand.server.farm_secret import is_sealed
from farmhand.server.store import access_keys
from farmhand.testing import ServerProcess

__all__ = ["workstation"]

pytestmark = pytest.mark.timeout(240)

SECRET_A = "correct horse battery staple, farm A"
SECRET_B = "correct horse battery staple, farm B"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask many systems default to (files 0644): the farm must not depend on a stricter one."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def loose_entries(root: Path, *, beyond: str = "") -> list[str]:
    """Everything under `root` that a group or other user could read, write or enter (not looking
    inside `beyond`, a 0700 directory whose contents nobody else can reach)."""
    found = []
    for directory, dirs, files in os.walk(root):
        if beyond in dirs:
            dirs.remove(beyond)
        for name in (*dirs, *files):
            path = Path(directory, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not stat.S_ISLNK(path.lstat().st_mode) and mode & 0o077:
                found.append(f"{path.relative_to(root)} {mode:o}")
    return found


def queue_credentials(server: ServerProcess) -> dict[str, Any]:
    deadline = server.client("deadline")
    farm = deadline.create_farm(displayName="private")["farmId"]
    queue = deadline.create_queue(farmId=farm, displayName="q")["queueId"]
    return dict(deadline.assume_queue_role_for_user(farmId=farm, queueId=queue)["credentials"])


def test_a_server_keeps_its_data_dir_private_and_no_secret_in_the_database_files(
    tmp_path: Path, loose_umask: None
) -> None:
    # Given a server started under a loose umask, holding the admin key and queue credentials
    with ServerProcess(tmp_path / "farm") as server:
        creds = queue_credentials(server)
        admin = server.admin
        # And objects in the farm's object store (small ones in its index, large ones as blobs)
        s3 = server.client("s3")
        s3.create_bucket(Bucket="private-objects")
        s3.put_object(Bucket="private-objects", Key="small", Body=b"s" * 100)
        s3.put_object(Bucket="private-objects", Key="large", Body=b"l" * (1 << 20))
        # Then the data dir is 0700 and nothing in it is readable by anyone else
        assert stat.S_IMODE((tmp_path / "farm").stat().st_mode) == 0o700
        assert (tmp_path / "farm" / "farmhand.db-wal").exists()
        assert loose_entries(tmp_path / "farm") == []
        database = b"".join(p.read_bytes() for p in (tmp_path / "farm").glob("farmhand.db*"))
    # And the database files (WAL included) hold none of the secrets in any readable form
    for secret in (admin.secret_access_key, creds["secretAccessKey"], creds["sessionToken"]):
        assert secret.encode() not in database
    # And the key they are sealed with is a 0600 file beside them, not in the database
    assert stat.S_IMODE((tmp_path / "farm" / "secret.key").stat().st_mode) == 0o600


def test_loose_files_left_by_an_older_version_are_made_private_at_start(tmp_path: Path) -> None:
    # Given a farm whose data dir and database an older version left readable by everyone
    data_dir = tmp_path / "farm"
    with ServerProcess(data_dir):
        pass
    data_dir.chmod(0o755)
    for path in data_dir.iterdir():
        if path.is_file():
            path.chmod(0o644)
    # When the server starts again, Then they are private again
    with ServerProcess(data_dir) as server:
        server.client("deadline").list_farms()
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert loose_entries(data_dir) == []


def test_plaintext_keys_of_an_older_farm_are_sealed_at_start_and_keep_working(tmp_path: Path) -> None:
    # Given a farm whose access keys an older version stored in plaintext
    data_dir = tmp_path / "farm"
    with ServerProcess(data_dir) as server:
        creds = queue_credentials(server)
        admin = server.admin
    with sqlite3.connect(data_dir / "farmhand.db") as db:
        db.execute(
            "UPDATE access_keys SET secret_access_key = ? WHERE access_key_id = ?",
            (admin.secret_access_key, admin.access_key_id),
        )
        db.execute(
            "UPDATE access_keys SET secret_access_key = ?, session_token = ? WHERE access_key_id = ?",
            (creds["secretAccessKey"], creds["sessionToken"], creds["accessKeyId"]),
        )
    # When the server starts again
    with ServerProcess(data_dir) as server:
        # Then the admin and the queue credentials still sign requests that succeed
        server.client("deadline").list_farms()
        scoped = server.client(
            "sts",
            session=boto3.Session(
                aws_access_key_id=creds["accessKeyId"],
                aws_secret_access_key=creds["secretAccessKey"],
                aws_session_token=creds["sessionToken"],
                region_name="us-west-2",
            ),
        )
        assert scoped.get_caller_identity()["Account"] == admin.account_id
        # And every stored secret is sealed now
        store = server.open_store()
        try:
            with store.read() as conn:
                rows = conn.execute(
                    select(access_keys.c.secret_access_key, access_keys.c.session_token)
                ).all()
        finally:
            store.dispose()
    assert rows and all(is_sealed(row.secret_access_key) for row in rows)
    assert all(is_sealed(row.session_token) for row in rows if row.session_token is not None)


@pytest.mark.postgres
def test_servers_sharing_a_database_need_the_same_secret_key(tmp_path: Path, pg_cluster: Any) -> None:
    # Given a farm on a PostgreSQL database of its own, started with FARMHAND_SECRET_KEY
    pg_url = pg_cluster.new_database()
    env_a = {"FARMHAND_SECRET_KEY": SECRET_A}
    with ServerProcess(tmp_path / "one", database_url=pg_url, env=env_a) as first:
        creds = queue_credentials(first)
        admin = first.admin
        # Then no key file is written (the key comes from the variable)
        assert not (tmp_path / "one" / "secret.key").exists()
        # And a second server on the same database with the same key accepts the same credentials
        with ServerProcess(tmp_path / "two", database_url=pg_url, env=env_a) as second:
            session = boto3.Session(
                aws_access_key_id=admin.access_key_id,
                aws_secret_access_key=admin.secret_access_key,
                region_name="us-west-2",
            )
            assert second.client("deadline", session=session).list_farms()["farms"]
        # And a database dump shows no usable credential
        store = first.open_store()
        try:
            with store.read() as conn:
                dump = repr(conn.execute(select(access_keys)).all())
        finally:
            store.dispose()
    for secret in (admin.secret_access_key, creds["secretAccessKey"], creds["sessionToken"]):
        assert secret not in dump

    # When a server is given another key (or none: its own key file) for that database
    for env in ({"FARMHAND_SECRET_KEY": SECRET_B}, {}):
        wrong = ServerProcess(tmp_path / f"wrong-{len(env)}", database_url=pg_url, env=env)
        # Then it refuses to start, saying which secret it needs
        with pytest.raises(RuntimeError, match="sealed with another farm secret"):
            wrong.start(timeout=60)


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "farm", env={"FARMHAND_SECRET_KEY": "too short"})
    with pytest.raises(RuntimeError, match="at least 32 characters"):
        server.start(timeout=60)


@pytest.mark.postgres
def test_farm_up_keeps_the_database_url_and_secret_out_of_argv_and_away_from_workers(
    workstation: Workstation, pg_cluster: Any, loose_umask: None
) -> None:
    # Given a PostgreSQL URL with a password, and a farm secret, in the user's environment
    url = pg_cluster.new_database().replace("postgres@", "postgres:hunter2-not-in-ps@")
    workstation.env.update(FARMHAND_DATABASE_URL=url, FARMHAND_SECRET_KEY=SECRET_A)
    # When the farm starts with a worker and runs a job
    started = workstation.up("--workers", "1")
    assert started.returncode == 0, started.stdout + started.stderr
    submitted = workstation.farmhand("bundle", "submit", "examples/hello", "--wait", timeout=180)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    status = workstation.status()
    # Then no process of the farm shows the password on its command line
    for pid in (status["supervisor_pid"], status["server_pid"], *status["worker_pids"]):
        assert "hunter2-not-in-ps" not in " ".join(psutil.Process(pid).cmdline())
    # And the workers (and so the jobs they run) never see the database URL or the farm secret
    for pid in status["worker_pids"]:
        environ = psutil.Process(pid).environ()
        assert "FARMHAND_DATABASE_URL" not in environ
        assert "FARMHAND_SECRET_KEY" not in environ
    # And everything the farm wrote in its data dir is private, whatever the umask, the workers'
    # credentials and logs included (the jobs' session directories sit in 0700 directories)
    assert stat.S_IMODE(workstation.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((workstation.data_dir / "workers").stat().st_mode) == 0o700
    assert list((workstation.data_dir / "workers").rglob("*.log"))
    assert loose_entries(workstation.data_dir, beyond="sessions") == []


def test_sealed_keys_in_a_store_copy_are_useless_without_the_key_file(tmp_path: Path) -> None:
    # Given a copy of a farm's database without its key file (a backup, a stolen disk image)
    data_dir = tmp_path / "farm"
    with ServerProcess(data_dir) as server:
        admin = server.admin
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in data_dir.glob("farmhand.db*"):
        (copy / path.name).write_bytes(path.read_bytes())
    # When a server is started on the copy, Then it refuses (its new key cannot open the database)
    with pytest.raises(RuntimeError, match="sealed with another farm secret"):
        ServerProcess(copy).start(timeout=60)
    # And the sealed admin secret in the copy is not the secret
    with sqlite3.connect(copy / "farmhand.db") as db:
        stored = db.execute(
            "SELECT secret_access_key FROM access_keys WHERE access_key_id = ?", (admin.access_key_id,)
        ).fetchone()[0]
    assert stored != admin.secret_access_key and is_sealed(stored)


@pytest.mark.postgres
def test_the_server_reads_its_database_url_from_a_private_file(tmp_path: Path, pg_cluster: Any) -> None:
    # Given the URL in a 0600 file, named on the command line (which then shows no password)
    url_file = tmp_path / "database-url"
    url_file.write_text(pg_cluster.new_database() + "\n")
    url_file.chmod(0o600)
    with ServerProcess(tmp_path / "farm", extra_args=["--database-url-file", str(url_file)]) as server:
        # Then the server uses PostgreSQL (no SQLite database appears in its data dir)
        assert server.client("deadline").create_farm(displayName="from a file")["farmId"]
        assert not (tmp_path / "farm" / "farmhand.db").exists()
        assert "postgresql" not in " ".join(psutil.Process(server.process.pid).cmdline())  # type: ignore[union-attr]


def test_a_worker_keeps_its_credentials_sessions_and_logs_private(tmp_path: Path, loose_umask: None) -> None:
    # Given a worker data dir an older version left readable by everyone
    data_dir = tmp_path / "worker"
    data_dir.mkdir(mode=0o755)
    (data_dir / "logs").mkdir(mode=0o755)
    (data_dir / "logs" / "worker.log").write_text("an older life\n")
    (data_dir / "logs" / "worker.log").chmod(0o644)
    listing = tmp_path / "listing"
    with ServerProcess(tmp_path / "farm") as server:
        # When a standalone worker started under a loose umask runs a job of a queue with a role,
        # whose task lists the modes of the worker's files while its queue credentials are in place
        farm = Farm(server)
        worker = farm.worker(data_dir)
        try:
            worker.wait_registered()
            command = (
                f"find '{data_dir}' -path '{data_dir}/sessions/*' -prune -o -printf '%m %P\\n' > '{listing}'"
            )
            job = farm.wait(farm.submit(job_template("modes", step("List", command))))
            assert job["taskRunStatus"] == "SUCCEEDED", job
            after = loose_entries(data_dir, beyond="sessions")
        finally:
            worker.stop()
    # Then the data dir and its sessions dir are 0700
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "sessions").stat().st_mode) == 0o700
    # And while the job ran, its credentials (fleet's and queue's), the logs and the worker's
    # state were all the owner's alone (worker.out is the test harness's own capture of stdout)
    modes = dict(line.split(" ", 1)[::-1] for line in listing.read_text().splitlines() if line.strip())
    assert any(name.startswith("queues/") and name.endswith("aws_credentials.json") for name in modes)
    assert any(name.startswith("credentials/") for name in modes) and "logs/worker.log" in modes
    loose = {name: mode for name, mode in modes.items() if int(mode, 8) & 0o077 and name != "worker.out"}
    assert loose == {}
    assert [entry for entry in after if not entry.startswith("worker.out ")] == []
