"""The unmodified AWS Deadline Cloud worker agent as a child process, pointed at a farm by environment.

The agent is the one `./scripts/test` installs in `.venv-aws-agent` (see `_aws_worker_agent`). It runs
jobs as its own user, without shutting the host down, with local directories. Its bootstrap keys go
in a credentials-file profile, not the environment: jobs run as the agent's user inherit its
environment, where keys would outrank the queue credentials (spec 7.4).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _aws_worker_agent import agent_executable


@contextmanager
def running_aws_agent(
    farm_id: str, fleet_id: str, home: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the agent with `env` (its keys moved to a profile); stop it and print its output after."""
    executable = agent_executable()
    for sub in ("logs", "persistence", "sessions"):
        (home / sub).mkdir(exist_ok=True)
    env = {
        **env,
        "AWS_REGION": env.get("AWS_REGION", "us-west-2"),
        "DEADLINE_CLOUD_TELEMETRY_OPT_OUT": "true",
    }
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[bootstrap]\naws_access_key_id = {env.pop('AWS_ACCESS_KEY_ID')}\n"
        f"aws_secret_access_key = {env.pop('AWS_SECRET_ACCESS_KEY')}\n"
    )
    args = [executable, "--farm-id", farm_id, "--fleet-id", fleet_id, "--profile", "bootstrap"]
    args += ["--run-jobs-as-agent-user", "--no-shutdown", "--no-host-metrics-logging"]
    args += ["--logs-dir", str(home / "logs"), "--persistence-dir", str(home / "persistence")]
    args += ["--session-root-dir", str(home / "sessions")]
    with (home / "agent.out").open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        print((home / "agent.out").read_text(errors="replace")[-8000:])
        for log in sorted((home / "logs").glob("queue-*/session-*.log"))[-1:]:
            print(log.read_text(errors="replace")[-4000:])
