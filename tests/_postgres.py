"""A throw-away PostgreSQL cluster for the test session: initdb in a temp dir, loopback port, torn down.

The server binaries come from PATH or Debian's `/usr/lib/postgresql/<version>/bin`. PostgreSQL refuses
to run as root, so as root the cluster runs as the `postgres` user (through `runuser`) in a temp dir
it owns. Where the binaries are absent, `find_postgres_bin` returns None and callers skip.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_databases = itertools.count(1)


def unavailable_reason() -> str | None:
    """Why no throw-away cluster can run here, or None when one can."""
    if find_postgres_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the cluster: PostgreSQL tests skipped"
    return None


def find_postgres_bin() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`, or None where PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """One cluster per test session; `new_database()` hands each server its own empty database."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="farmhand-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "postgres.log"
        self.port = _free_port()
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as and shutil.which("runuser"):
            command = ["runuser", "-u", self.run_as, "--", *command]
        elif self.run_as:
            command = ["su", self.run_as, "-s", "/bin/sh", "-c", shlex.join(command)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> PostgresCluster:
        try:
            return self._start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _start(self) -> PostgresCluster:
        self.socket_dir.mkdir()
        if self.run_as:
            shutil.chown(self.root, self.run_as)
            shutil.chown(self.socket_dir, self.run_as)
        init = self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        self.start_server()
        return self

    @property
    def options(self) -> str:
        return (
            f"-p {self.port} -h 127.0.0.1 -k {self.socket_dir} -c fsync=off -c full_page_writes=off "
            "-c max_connections=200"
        )

    def start_server(self) -> None:
        """Start the cluster's server (again, after `stop_server`)."""
        started = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", self.options, "-w", "start"
        )
        if started.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}\n{started.stderr}\n{log}")

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping the cluster's data (`fast`: sessions are ended, work is kept)."""
        stopped = self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
        if stopped.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed:\n{stopped.stdout}\n{stopped.stderr}")

    def restart_server(self) -> None:
        """`pg_ctl restart`: every session is ended, the server is back with the same data."""
        restarted = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            self.options,
            "-m",
            "fast",
            "-w",
            "restart",
        )
        if restarted.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed:\n{restarted.stdout}\n{restarted.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database of its own, as a SQLAlchemy URL."""
        import psycopg

        name = f"farmhand_{os.getpid()}_{next(_databases)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
