"""The wire layer's service models load from botocore's data, whatever the caller's AWS profile says."""

from __future__ import annotations

import subprocess
import sys


def test_models_load_with_a_missing_aws_profile() -> None:
    # Given an environment naming an AWS profile that does not exist
    env = {"AWS_PROFILE": "no-such-profile", "PATH": ""}
    # When the route table and the logs model are loaded in a fresh interpreter
    code = (
        "from farmhand.server.protocol import deadline_routes, service_model;"
        "print(sum(1 for _ in deadline_routes()), service_model('logs').metadata['targetPrefix'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    # Then they load: every deadline operation has a route
    assert result.returncode == 0, result.stderr
    count, prefix = result.stdout.split()
    assert int(count) > 100
    assert prefix == "Logs_20140328"
