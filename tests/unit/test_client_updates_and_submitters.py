"""`safe_check_for_updates` against real local HTTP servers, and the submitter framework."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from farmhand.client import api, config
from farmhand.client.api import _update_check
from farmhand.client.job_bundle import AssetReferences

INTEGRATION = "deadline-cloud-for-testing"


def manifest(version: Any, *, installer: str | None = "installers/linux/submitter.run") -> dict[str, Any]:
    entry: dict[str, Any] = {"componentVersions": {INTEGRATION: version}}
    if installer:
        entry["installer"] = installer
    latest = {name: entry for name in ("linux", "macos", "windows")}
    return {"DeadlineCloudSubmitter": {"versions": {"latest": latest}}}


@pytest.fixture
def manifest_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A real HTTP server answering the manifest URL with whatever `served["body"]` holds."""
    served: dict[str, Any] = {"body": b"{}", "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served["hits"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(served["body"])

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(
        _update_check, "MANIFEST_URL", f"http://127.0.0.1:{server.server_port}/submitters/manifest.json"
    )
    yield served
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def own_config(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline-config"))


def test_a_newer_release_is_reported_with_its_download(manifest_server: dict[str, Any]) -> None:
    manifest_server["body"] = json.dumps(manifest("1.4.0")).encode()
    result = api.safe_check_for_updates(INTEGRATION, "1.2.3")
    assert result.status == api.UpdateCheckStatus.SUCCESS and result.update_available
    assert result.latest_version == "1.4.0"
    assert (
        result.download_url
        == _update_check.MANIFEST_URL.rsplit("/", 1)[0] + "/installers/linux/submitter.run"
    )


def test_the_current_release_or_a_missing_installer_is_no_update(manifest_server: dict[str, Any]) -> None:
    manifest_server["body"] = json.dumps(manifest("1.2.3")).encode()
    assert not api.safe_check_for_updates(INTEGRATION, "1.2.3").update_available
    manifest_server["body"] = json.dumps(manifest("9.0", installer=None)).encode()
    result = api.safe_check_for_updates(INTEGRATION, "1.2.3")
    assert result.status == api.UpdateCheckStatus.SUCCESS and not result.update_available


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", api.UpdateCheckStatus.PARSE_ERROR),
        (json.dumps({"DeadlineCloudSubmitter": {}}).encode(), api.UpdateCheckStatus.PARSE_ERROR),
        (json.dumps([1, 2]).encode(), api.UpdateCheckStatus.PARSE_ERROR),
        (json.dumps(manifest("not-a-version!")).encode(), api.UpdateCheckStatus.INVALID_VERSION),
    ],
)
def test_a_bad_manifest_is_a_status_not_an_exception(
    manifest_server: dict[str, Any], body: bytes, status: api.UpdateCheckStatus
) -> None:
    manifest_server["body"] = body
    result = api.safe_check_for_updates(INTEGRATION, "1.0.0")
    assert result.status == status and not result.update_available and result.error_message


def test_an_integration_the_manifest_does_not_list(manifest_server: dict[str, Any]) -> None:
    manifest_server["body"] = json.dumps(manifest("1.0")).encode()
    result = api.safe_check_for_updates("another-integration", "1.0.0")
    assert result.status == api.UpdateCheckStatus.INTEGRATION_NOT_FOUND


def test_turned_off_in_the_config_it_fetches_nothing(manifest_server: dict[str, Any]) -> None:
    config.set_setting("settings.submitter_update_notification", "false")
    result = api.safe_check_for_updates(INTEGRATION, "1.0.0")
    assert result.status == api.UpdateCheckStatus.SUCCESS and not result.update_available
    assert manifest_server["hits"] == 0


def test_offline_it_answers_with_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a manifest address nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(_update_check, "MANIFEST_URL", f"http://127.0.0.1:{port}/manifest.json")
    # Then the check answers, and says why
    result = api.safe_check_for_updates(INTEGRATION, "1.0.0")
    assert result.status == api.UpdateCheckStatus.NETWORK_ERROR and not result.update_available


def test_a_server_that_never_answers_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server that accepts the connection and then says nothing
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(
            _update_check, "MANIFEST_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/manifest.json"
        )
        monkeypatch.setattr(_update_check, "MANIFEST_TIMEOUT_SECONDS", 0.5)
        # Then the check gives up after its timeout
        result = api.safe_check_for_updates(INTEGRATION, "1.0.0")
    assert result.status == api.UpdateCheckStatus.TIMEOUT_ERROR


class EchoSubmitter(api.BaseSubmitter):
    def get_settings(self) -> api.BaseSubmitterSettings:
        return api.BaseSubmitterSettings(job_name="from the scene", frame_list="1-3")

    def get_job_template(
        self, settings: api.BaseSubmitterSettings, host_requirements: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {"name": settings.job_name, "hostRequirements": host_requirements}

    def get_parameter_values(
        self, settings: api.BaseSubmitterSettings, queue_parameters: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return [{"name": p["name"], "value": p["value"]} for p in queue_parameters]

    def get_asset_references(self, settings: api.BaseSubmitterSettings) -> AssetReferences:
        return AssetReferences(input_filenames={"/scene.blend"})


def test_a_submitter_gathers_its_submission_in_one_call() -> None:
    context = EchoSubmitter().get_submission_context(
        queue_parameters=[{"name": "Conda", "value": "blender"}], host_requirements={"amounts": []}
    )
    assert context.settings.job_name == "from the scene" and context.settings.max_worker_count == -1
    assert context.job_template == {"name": "from the scene", "hostRequirements": {"amounts": []}}
    assert context.parameter_values == [{"name": "Conda", "value": "blender"}]
    assert context.asset_references.input_filenames == {"/scene.blend"}
    with pytest.raises(AttributeError):
        context.job_template = {}  # type: ignore[misc]


def test_a_submitter_must_implement_the_interface() -> None:
    class Incomplete(api.BaseSubmitter):
        pass

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def test_queue_parameters_need_a_farm_and_a_queue() -> None:
    with pytest.raises(api.DeadlineOperationError, match="farm and a queue"):
        api.get_queue_parameters()
