"""Client library: import time, read latency and bundle submission, farmhand beside the AWS client.

Both libraries run in this process against the same farm server on loopback, configured the way a
user configures them (an AWS profile with a `[services]` section, a deadline config file). The AWS
`deadline` package must be installed (it is in the test extras).

    python benchmarks/client_api.py            # 20 submissions and 200 reads per library
    python benchmarks/client_api.py --quick    # 5 submissions and 50 reads per library
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from farmhand.testing import ServerProcess

TEMPLATE = """\
specificationVersion: jobtemplate-2023-09
name: Benchmark job
parameterDefinitions:
- name: Frames
  type: INT
  default: 1
steps:
- name: Render
  parameterSpace:
    taskParameterDefinitions:
    - name: Frame
      type: INT
      range: "1-{{Param.Frames}}"
  script:
    actions:
      onRun:
        command: echo
        args: ["{{Task.Param.Frame}}"]
"""


def median_ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"median {statistics.median(samples) * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms   (n={len(samples)})"
    )


def timed(function: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def import_seconds(module: str, repeat: int) -> list[float]:
    """Wall time of a fresh interpreter importing `module`, minus a bare interpreter."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    bare = statistics.median(run("pass") for _ in range(repeat))
    return [run(f"import {module}") - bare for _ in range(repeat)]


def configure(directory: Path, server: ServerProcess) -> None:
    admin = server.admin
    (directory / "aws_config").write_text(
        textwrap.dedent(
            f"""\
            [profile bench]
            region = us-west-2
            services = bench
            disable_host_prefix_injection = true

            [services bench]
            deadline =
              endpoint_url = {server.url}
            cloudwatch_logs =
              endpoint_url = {server.url}
            sts =
              endpoint_url = {server.url}
            """
        )
    )
    (directory / "aws_credentials").write_text(
        f"[bench]\naws_access_key_id = {admin.access_key_id}\n"
        f"aws_secret_access_key = {admin.secret_access_key}\n"
    )
    os.environ.update(
        AWS_CONFIG_FILE=str(directory / "aws_config"),
        AWS_SHARED_CREDENTIALS_FILE=str(directory / "aws_credentials"),
        DEADLINE_CONFIG_FILE_PATH=str(directory / "deadline_config"),
        DEADLINE_CLOUD_TELEMETRY_OPT_OUT="true",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    arguments = parser.parse_args()
    submissions, reads, imports = (5, 50, 3) if arguments.quick else (20, 200, 7)

    print("import time (fresh interpreter, minus bare startup)")
    for module in ("farmhand.client.config", "farmhand.client.api", "deadline.client.api"):
        print(f"  {module:28s} {median_ms(import_seconds(module, imports))}")

    with tempfile.TemporaryDirectory() as temp, ServerProcess(Path(temp) / "server") as server:
        directory = Path(temp)
        configure(directory, server)
        from deadline.client import api as aws_api

        from farmhand.client import api, config

        config.set_setting("defaults.aws_profile_name", "bench")
        deadline = api.get_boto3_client("deadline")
        farm_id = deadline.create_farm(displayName="bench")["farmId"]
        queue_id = deadline.create_queue(farmId=farm_id, displayName="bench")["queueId"]
        config.set_setting("defaults.farm_id", farm_id)
        config.set_setting("defaults.queue_id", queue_id)
        bundle = directory / "bundle"
        bundle.mkdir()
        (bundle / "template.yaml").write_text(TEMPLATE)
        quiet: dict[str, Any] = {"print_function_callback": lambda *_: None}
        job_id = api.create_job_from_job_bundle(str(bundle), **quiet)
        assert job_id is not None

        print(f"\nreads against the farm on loopback ({reads} calls each)")
        for label, call in (
            ("farmhand get_job", lambda: api.get_job(farm_id, queue_id, job_id)),
            ("deadline get_job", lambda: aws_api.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)),
            ("farmhand list_queues", lambda: api.list_queues(farmId=farm_id)),
            ("deadline list_queues", lambda: aws_api.list_queues(farmId=farm_id)),
        ):
            call()
            print(f"  {label:28s} {median_ms(timed(call, reads))}")

        print(f"\ncreate_job_from_job_bundle, 10-task bundle, wait for CREATE_COMPLETE ({submissions} each)")
        parameters = [{"name": "Frames", "value": "10"}]
        for label, submit in (
            ("farmhand", lambda: api.create_job_from_job_bundle(str(bundle), parameters, **quiet)),
            ("deadline", lambda: aws_api.create_job_from_job_bundle(str(bundle), parameters, **quiet)),
        ):
            submit()
            print(f"  {label:28s} {median_ms(timed(submit, submissions))}")


if __name__ == "__main__":
    main()
