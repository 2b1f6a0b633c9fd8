"""On the farm's own host, the local workers of `farmhand up` read job inputs from the farm's object
store files instead of downloading them through its S3 endpoint."""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.request
from pathlib import Path

import pytest

from farmhand.testing import LocalFarm

pytestmark = pytest.mark.timeout(300)

HASH_SCRIPT = (
    "import hashlib, sys; print('sha256', hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())"
)
TEMPLATE = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "hashes its input",
    "parameterDefinitions": [{"name": "InFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"}],
    "steps": [
        {
            "name": "Hash",
            "script": {
                "actions": {
                    "onRun": {
                        "command": "python3",
                        "args": [
                            "-c",
                            HASH_SCRIPT,
                            "{{Param.InFile}}",
                        ],
                    }
                }
            },
        }
    ],
}


def bytes_served(farm: LocalFarm) -> float:
    """What the farm's object store has sent in responses so far (its Prometheus counter)."""
    with urllib.request.urlopen(f"{farm.url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(r'^farmhand_object_store_bytes_total\{direction="out"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_local_workers_read_inputs_from_the_farms_store_files(tmp_path: Path) -> None:
    with LocalFarm(workers=1, directory=tmp_path / "farm") as farm:
        # Given an input the farm has never seen (1 MiB of random bytes), submitted with the job
        data = os.urandom(1024 * 1024)
        source = tmp_path / "input.bin"
        source.write_bytes(data)
        bundle = tmp_path / "bundle"
        bundle.mkdir()
        (bundle / "template.json").write_text(json.dumps(TEMPLATE))
        job_id = farm.submit(bundle, {"InFile": source})
        served_before_run = bytes_served(farm)
        # When the farm's local worker runs it
        assert farm.wait(job_id)["taskRunStatus"] == "SUCCEEDED"
        # Then the task read exactly the submitted bytes
        lines = farm.log_lines(job_id)
        assert any(f"sha256 {hashlib.sha256(data).hexdigest()}" in line for line in lines), lines[-20:]
        # And they did not come through the S3 endpoint (only the small input manifest did)
        assert bytes_served(farm) - served_before_run < len(data) / 4
