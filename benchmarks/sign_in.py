"""Sign-in: seconds from `farmhand login` to the first answered call, and what a signed-in profile
costs each new process (its `credential_process`), beside a profile with keys in the same run.

A farm server on loopback (SQLite, or `--tls` with the farm's own CA), one user, a workstation with
its own AWS and deadline config files. Each round, in real processes as a person runs them:

* password login: `farmhand login --password-stdin`, then `farmhand farm list` (the first call);
* device login: `farmhand-monitor login` (what `deadline auth login` runs) while a browser stand-in
  approves the code on the sign-in page, then the first call;
* per process: `farmhand farm list` with the signed-in profile, and with an admin-keys profile
  (the difference is the credential_process start and the cached credentials' read).

    python benchmarks/sign_in.py             # 5 rounds
    python benchmarks/sign_in.py --tls --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from farmhand._models import add_models_to
from farmhand.testing import ServerProcess

BIN = Path(sys.executable).parent
PASSWORD = "benchmark password"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")
    return elapsed


def device_login(env: dict[str, str], url_ca: str | None) -> float:
    """`farmhand-monitor login` with a person who approves the code as soon as it shows."""
    from _browser import approve

    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "farmhand-monitor"), "login", "--profile", "user"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "open " in line:
            address = line.split("open ", 1)[1].strip()
            threading.Thread(target=approve, args=(address, "bench", PASSWORD, url_ca), daemon=True).start()
    if process.wait() != 0:
        raise RuntimeError("device login failed")
    run(env, "farmhand", "farm", "list", "--profile", "user")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tls", action="store_true", help="Serve HTTPS with the farm's own CA.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with ServerProcess(root / "farm", extra_args=["--tls"] if args.tls else []) as server:
            session = server.boto3_session()
            add_models_to(session._session)
            server.client("farmhand-identity", session=session).create_user(
                userName="bench", password=PASSWORD
            )
            server.client("deadline").create_farm(displayName="bench")
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(
                AWS_CONFIG_FILE=str(root / "aws" / "config"),
                AWS_SHARED_CREDENTIALS_FILE=str(root / "aws" / "credentials"),
                DEADLINE_CONFIG_FILE_PATH=str(root / "deadline" / "config"),
                DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
            )
            env.pop("DISPLAY", None)
            ca = server.ca_bundle
            tls_args = ["--ca-bundle", ca] if ca else []
            run(env, "farmhand", "profile", "add", "user", "--url", server.url, "--user", "bench", *tls_args)
            (root / "admin.json").write_text(
                json.dumps(
                    {
                        "aws_access_key_id": server.admin.access_key_id,
                        "aws_secret_access_key": server.admin.secret_access_key,
                    }
                )
            )
            run(
                env,
                "farmhand",
                "profile",
                "add",
                "keys",
                "--url",
                server.url,
                "--admin",
                "--admin-credentials",
                str(root / "admin.json"),
                "--no-defaults",
                *tls_args,
            )
            results: dict[str, list[float]] = {
                "password": [],
                "device": [],
                "signed_in_call": [],
                "keys_call": [],
            }
            for _ in range(args.rounds):
                run(env, "farmhand", "logout", "--profile", "user")
                login = run(
                    env, "farmhand", "login", "--profile", "user", "--password-stdin", stdin=PASSWORD + "\n"
                )
                first = run(env, "farmhand", "farm", "list", "--profile", "user")
                results["password"].append(login + first)
                run(env, "farmhand", "logout", "--profile", "user")
                results["device"].append(device_login(env, ca))
                results["signed_in_call"].append(run(env, "farmhand", "farm", "list", "--profile", "user"))
                results["keys_call"].append(run(env, "farmhand", "farm", "list", "--profile", "keys"))
    load = os.getloadavg()
    report: dict[str, Any] = {
        "rounds": args.rounds,
        "tls": args.tls,
        "load_1_5_15": [round(x, 2) for x in load],
        "login_to_first_call_password_s": round(statistics.median(results["password"]), 3),
        "login_to_first_call_device_s": round(statistics.median(results["device"]), 3),
        "farm_list_signed_in_s": round(statistics.median(results["signed_in_call"]), 3),
        "farm_list_admin_keys_s": round(statistics.median(results["keys_call"]), 3),
    }
    report["credential_process_overhead_s"] = round(
        report["farm_list_signed_in_s"] - report["farm_list_admin_keys_s"], 3
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
