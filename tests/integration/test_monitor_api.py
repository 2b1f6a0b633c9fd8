"""The monitor on the farm's listener, without a browser: its pages need a sign-in, its API calls are the
farm's own operations for the signed-in user (same access table, same audit trail) and refuse forged
or signed-out calls, and its event stream tells an open page when the farm changed."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any

import pytest
from _synthetic_workers import farm_with_fleet, job_template, step, submit

from _browser import Browser
from _monitor_farm import FarmUser, PageSession, create_farm_user
from farmhand.testing import ServerProcess

pytestmark = pytest.mark.timeout(180)


class Farm:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.admin = server.client("deadline")
        self.farm, self.queue, self.fleet = farm_with_fleet(self.admin)
        session = server.boto3_session()
        self.viewer = create_farm_user(session, server.url, self.farm, "VIEWER", "viewer")
        self.manager = create_farm_user(session, server.url, self.farm, "MANAGER", "manager")
        self.job = submit(self.admin, self.farm, self.queue, job_template(step("A", 2)))

    def page(self, user: FarmUser) -> PageSession:
        return PageSession(self.server, user)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.fixture(scope="module")
def farm(server: ServerProcess) -> Farm:
    return Farm(server)


def test_pages_send_a_browser_that_is_not_signed_in_to_the_sign_in_page(server: ServerProcess) -> None:
    page = Browser().get(server.url + "/farms/farm-0123/queues/queue-4567?status=FAILED")
    # urllib follows the 303: the sign-in form, remembering where to go back to
    assert page.url.startswith(server.url + "/signin?next=")
    assert (
        urllib.parse.unquote(page.url.split("next=", 1)[1])
        == "/farms/farm-0123/queues/queue-4567?status=FAILED"
    )
    assert 'name="next" value="/farms/farm-0123/queues/queue-4567?status=FAILED"' in page.text


def test_signing_in_returns_to_the_page_and_serves_the_shell_with_a_strict_policy(farm: Farm) -> None:
    page = farm.page(farm.viewer)
    assert f"<meta name=farmhand-user content='{farm.viewer.name}'>" in page.shell
    shell = page.browser.get(farm.server.url + f"/farms/{farm.farm}")
    headers = lower(shell.headers)
    policy = headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy
        and "'unsafe-inline'" not in policy
        and "frame-ancestors 'none'" in policy
    )
    assert headers["cache-control"] == "no-store"
    # The shell has no inline script and names no other site
    assert "<script type=module src='/monitor/static/monitor.js?v=" in shell.text
    assert "<script>" not in shell.text and "http" not in shell.text.split("<head>", 1)[1]


def test_the_sign_in_page_returns_only_to_this_farm(farm: Farm) -> None:
    browser = Browser()
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        landed = browser.sign_in(
            f"{farm.server.url}/signin?next={urllib.parse.quote(target)}",
            farm.viewer.name,
            "correct horse battery",
        )
        assert landed.url == farm.server.url + "/signin", target
        assert "Signed in as" in landed.text


def test_static_files_are_served_from_the_package_and_kept_by_browsers(farm: Farm) -> None:
    page = farm.page(farm.viewer)
    version = page.shell.split("/monitor/static/monitor.js?v=", 1)[1].split("'", 1)[0]
    script = Browser().get(f"{farm.server.url}/monitor/static/monitor.js?v={version}")
    headers = lower(script.headers)
    assert script.status == 200 and headers["content-type"].startswith("text/javascript")
    assert "immutable" in headers["cache-control"]
    assert Browser().get(f"{farm.server.url}/monitor/static/../_pages.py").status == 404
    operations = json.loads(Browser().get(f"{farm.server.url}/monitor/operations.json").text)
    assert operations["deadline"]["UpdateJob"]["method"] == "PATCH"
    assert operations["logs"]["targets"]["GetLogEvents"] == "Logs_20140328.GetLogEvents"


def test_a_page_reads_and_acts_as_its_user_through_the_api(farm: Farm) -> None:
    viewer, manager = farm.page(farm.viewer), farm.page(farm.manager)
    status, _, job = viewer.get_job(farm.farm, farm.queue, farm.job)
    assert status == 200 and job["jobId"] == farm.job
    # A VIEWER's change is refused by the access table, with its reason, and changes nothing
    status, headers, error = viewer.update_job(farm.farm, farm.queue, farm.job, priority=9)
    assert status == 403 and headers["x-amzn-errortype"].startswith("AccessDeniedException")
    assert "is not authorized to perform deadline:UpdateJob" in error["message"]
    assert farm.admin.get_job(farmId=farm.farm, queueId=farm.queue, jobId=farm.job)["priority"] != 9
    # A MANAGER's goes through
    status, _, _ = manager.update_job(farm.farm, farm.queue, farm.job, priority=9)
    assert status == 200
    assert farm.admin.get_job(farmId=farm.farm, queueId=farm.queue, jobId=farm.job)["priority"] == 9


def audit_events(farm: Farm) -> list[dict[str, Any]]:
    logs = farm.server.client("logs")
    events = logs.filter_log_events(logGroupName=f"/farmhand/audit/{farm.farm}")["events"]
    return [json.loads(e["message"]) for e in events]


def test_monitor_actions_are_in_the_audit_trail_as_their_user(farm: Farm) -> None:
    farm.page(farm.viewer).update_job(farm.farm, farm.queue, farm.job, priority=3)
    farm.page(farm.manager).update_job(farm.farm, farm.queue, farm.job, priority=4)
    records = [
        (r["principalId"], r["result"]) for r in audit_events(farm) if r["operation"] == "deadline:UpdateJob"
    ]
    assert (farm.viewer.principal_id, "DENIED") in records
    assert (farm.manager.principal_id, "ALLOWED") in records


def raw_call(url: str, method: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=30)
    connection.request(method, path, headers=headers)
    return connection.getresponse()


def test_forged_and_signed_out_calls_are_refused(farm: Farm) -> None:
    page = farm.page(farm.manager)
    path = f"/2023-10-12/farms/{farm.farm}/queues/{farm.queue}/jobs/{farm.job}"
    # No CSRF header: not a monitor call, so an unsigned API request
    status, headers, _ = page.call("PATCH", path, {"priority": 11}, csrf=False)
    assert status == 403 and headers["x-amzn-errortype"].startswith("MissingAuthenticationToken")
    # A wrong token, or a call from a page of another site
    status, _, error = page.call("PATCH", path, {"priority": 11}, {"x-farmhand-csrf": "forged"})
    assert status == 403 and "CSRF" in error["message"]
    status, _, error = page.call("PATCH", path, {"priority": 11}, {"Origin": "https://evil.example"})
    assert status == 403 and "another site" in error["message"]
    assert farm.admin.get_job(farmId=farm.farm, queueId=farm.queue, jobId=farm.job)["priority"] != 11
    # Signed out: the same cookie no longer signs anything in
    cookies = f"farmhand_session={page.cookie('farmhand_session')}; farmhand_csrf={page.csrf}"
    assert (
        raw_call(farm.server.url, "GET", path, {"Cookie": cookies, "x-farmhand-csrf": page.csrf}).status
        == 200
    )
    page.browser.post(f"{farm.server.url}/signout", {"csrf": page.csrf}, {"Origin": farm.server.url})
    answer = raw_call(farm.server.url, "GET", path, {"Cookie": cookies, "x-farmhand-csrf": page.csrf})
    assert answer.status == 403 and answer.getheader("x-amzn-ErrorType", "").startswith("UnrecognizedClient")
    assert raw_call(farm.server.url, "GET", "/", {"Cookie": cookies}).status == 303


def read_event(stream: Any) -> tuple[str, dict[str, Any]]:
    """The next named event of a text/event-stream (comments and blank lines skipped)."""
    name, data = "", ""
    while True:
        line = stream.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and name:
            return name, json.loads(data)


def test_an_open_page_hears_of_each_change(farm: Farm) -> None:
    page = farm.page(farm.manager)
    netloc = urllib.parse.urlsplit(farm.server.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=30)
    cookies = f"farmhand_session={page.cookie('farmhand_session')}; farmhand_csrf={page.csrf}"
    connection.request("GET", "/monitor/events", headers={"Cookie": cookies})
    stream = connection.getresponse()
    assert stream.status == 200 and stream.getheader("Content-Type").startswith("text/event-stream")
    name, hello = read_event(stream)
    assert name == "hello" and hello["deadline"] >= 0
    # When the farm changes (another user's API call), the page is told
    farm.admin.update_job(farmId=farm.farm, queueId=farm.queue, jobId=farm.job, priority=21)
    started = time.monotonic()
    name, change = read_event(stream)
    print(f"change event {time.monotonic() - started:.3f} s after the update")
    assert (
        name == "change"
        and change["deadline"] > hello["deadline"]
        and change["instance"] == hello["instance"]
    )
    connection.close()
    # Without a sign-in there is no stream
    anonymous = http.client.HTTPConnection(netloc, timeout=30)
    anonymous.request("GET", "/monitor/events")
    assert anonymous.getresponse().status == 401
    anonymous.close()
