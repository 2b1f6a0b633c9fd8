"""The web monitor in a real browser (Debian's headless Chromium) against a real farm with a worker:
sign in on the farm's page, watch a job submitted through the API finish without a reload, open a
failed task's log from the job list, cancel a job as its CONTRIBUTOR and be refused as a VIEWER, and
keep the page live across a crash of the server; the job page's step graph and sessions timeline,
an OWNER's queue scheduling, bulk actions that ask first, and the monitor over HTTPS. Screenshots are
kept in `test-artifacts/monitor/`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from _chromium import another_chromium, screenshot
from _monitor_farm import PASSWORD, FarmUser, create_farm_user, user_session
from farmhand.testing import LocalFarm, ServerProcess

pytestmark = pytest.mark.timeout(300)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WAIT_MS = 90_000


class MonitorFarm:
    def __init__(self, farm: LocalFarm) -> None:
        self.farm = farm
        admin = farm.session()
        self.contributor = create_farm_user(admin, farm.url, farm.farm_id, "CONTRIBUTOR", "contributor")
        self.viewer = create_farm_user(admin, farm.url, farm.farm_id, "VIEWER", "viewer")

    @property
    def queue_page(self) -> str:
        return f"{self.farm.url}/farms/{self.farm.farm_id}/queues/{self.farm.queue_id}"

    def job_page(self, job_id: str) -> str:
        return f"{self.queue_page}/jobs/{job_id}"


@pytest.fixture(scope="module")
def monitor() -> Iterator[MonitorFarm]:
    with LocalFarm(workers=1) as farm:
        yield MonitorFarm(farm)


def sign_in(chromium: Any, url: str, user: FarmUser) -> Any:
    """A fresh browser context that opens `url`, is sent to the sign-in page, and comes back signed in."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(url)
    page.wait_for_url(lambda address: "/signin?next=" in address)
    page.get_by_label("User name").fill(user.name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url)
    page.locator("#live-state.live").wait_for()
    return page


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
  .filter((el) => !(el.type === 'hidden' || el.getAttribute('aria-label') || (el.labels && el.labels.length)
                    || el.textContent.trim()))
  .map((el) => el.outerHTML)"""
BACKGROUND_LIGHTNESS = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
  return (Math.max(r, g, b) + Math.min(r, g, b)) / 510;
}"""


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'tr[data-row="{job_id}"]')


def test_a_job_submitted_through_the_api_reaches_succeeded_on_an_open_page(
    chromium: Any, monitor: MonitorFarm
) -> None:
    # Given a contributor signed in on the queue's page
    page = sign_in(chromium, monitor.queue_page, monitor.contributor)
    assert page.locator("h1").inner_text().startswith("Default")
    page.evaluate("window.stillTheSamePage = true")
    # When a job is submitted through the API
    job_id = monitor.farm.submit(EXAMPLES / "hello")
    # Then it appears and reaches SUCCEEDED on the page, which was never reloaded
    row(page, job_id).locator(".badge.s-succeeded").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.stillTheSamePage") is True
    assert "1/1" in row(page, job_id).inner_text()
    screenshot(page, "queue-job-succeeded")
    # Every control has a name a screen reader can say
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    # The keyboard moves between rows and selects them
    page.locator("body").press("j")
    assert page.evaluate("document.activeElement.classList.contains('row-link')")
    page.keyboard.press("x")
    page.get_by_text("1 selected").wait_for()
    page.keyboard.press("x")
    page.get_by_text("Select jobs to act on them").wait_for()
    # Dark when the system asks for it
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(BACKGROUND_LIGHTNESS) < 0.2
    screenshot(page, "queue-dark")
    page.emulate_media(color_scheme="light")
    assert page.evaluate(BACKGROUND_LIGHTNESS) > 0.8
    # And its page shows the step, the session on its worker and the log one click away
    row(page, job_id).get_by_role("link", name="Hello").click()
    page.get_by_role("heading", name="Steps").wait_for()
    screenshot(page, "job-page")
    page.context.close()


def test_a_failed_tasks_exit_code_and_log_are_one_click_from_the_job_list(
    chromium: Any, monitor: MonitorFarm
) -> None:
    page = sign_in(chromium, monitor.queue_page, monitor.contributor)
    job_id = monitor.farm.submit(EXAMPLES / "retries", max_retries_per_task=0)
    row(page, job_id).locator(".badge.s-failed").wait_for(timeout=WAIT_MS)
    # One click on the failed job's "Why?" shows the failed task, its exit code and the end of its log
    row(page, job_id).get_by_role("button", name="Why is Retries FAILED?").click()
    why = page.get_by_role("dialog")
    why.locator(".failed-task").wait_for()
    assert "exit code 3" in why.inner_text()
    assert "error: item 2 has a corrupt input file" in why.locator("pre.log-tail").inner_text()
    screenshot(page, "why-failed")
    # And one more opens the whole log of that task's session
    why.get_by_role("link", name="Open the log").click()
    page.wait_for_url("**/sessions/session-*")
    log = page.get_by_role("log")
    log.get_by_text("error: item 2 has a corrupt input file").wait_for()
    screenshot(page, "failed-task-log")
    page.context.close()


def sleeping_job(session: Any, farm: LocalFarm, seconds: int) -> str:
    template = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Long render",
        "steps": [
            {"name": "Sleep", "script": {"actions": {"onRun": {"command": "sleep", "args": [str(seconds)]}}}}
        ],
    }
    deadline = session.client("deadline", endpoint_url=farm.url, config=Config(inject_host_prefix=False))
    return create_job(deadline, farm, template, priority=90)


def create_job(deadline: Any, farm: LocalFarm, template: dict[str, Any], **options: Any) -> str:
    """A job from a template dict, through the given client (whose credentials submit it)."""
    options.setdefault("priority", 50)
    answer = deadline.create_job(
        farmId=farm.farm_id,
        queueId=farm.queue_id,
        template=json.dumps(template),
        templateType="JSON",
        **options,
    )
    return str(answer["jobId"])


def cancel_on_page(page: Any) -> None:
    page.get_by_role("toolbar", name="Job actions").get_by_role("button", name="Cancel", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel job").click()


def test_a_contributor_cancels_its_job_and_a_viewer_is_refused(chromium: Any, monitor: MonitorFarm) -> None:
    farm = monitor.farm
    # Given a long job the contributor submitted with its own credentials
    job_id = sleeping_job(user_session(farm.url, monitor.contributor), farm, 300)
    # When a VIEWER presses Cancel on the job's page
    viewer = sign_in(chromium, monitor.job_page(job_id), monitor.viewer)
    cancel_on_page(viewer)
    # Then the farm refuses, and the page says why
    toast = viewer.locator("#announce")
    toast.get_by_text("refused").wait_for()
    assert "is not authorized to perform deadline:UpdateJob" in toast.inner_text()
    screenshot(viewer, "viewer-cancel-refused")
    job = farm.client("deadline").get_job(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id)
    assert job["taskRunStatus"] != "CANCELED" and "targetTaskRunStatus" not in job
    # When the CONTRIBUTOR who submitted it presses Cancel
    contributor = sign_in(chromium, monitor.job_page(job_id), monitor.contributor)
    cancel_on_page(contributor)
    # Then the job is canceled, on both open pages, without a reload
    contributor.locator("h1 .badge.s-canceled").wait_for(timeout=WAIT_MS)
    viewer.locator("h1 .badge.s-canceled").wait_for(timeout=WAIT_MS)
    screenshot(contributor, "contributor-canceled")
    job = farm.client("deadline").get_job(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id)
    assert job["taskRunStatus"] == "CANCELED"
    viewer.context.close()
    contributor.context.close()


def test_an_open_page_stays_live_across_a_crash_of_the_server(chromium: Any, monitor: MonitorFarm) -> None:
    farm = monitor.farm
    page = sign_in(chromium, monitor.queue_page, monitor.contributor)
    page.evaluate("window.stillTheSamePage = true")
    # When the server is killed (its supervisor starts it again on the same port)
    assert farm.state is not None and farm.state.server_pid
    os.kill(farm.state.server_pid, signal.SIGKILL)
    page.locator("#live-state.reconnecting").wait_for(timeout=WAIT_MS)
    page.locator("#live-state.live").wait_for(timeout=WAIT_MS)
    # Then a job submitted afterwards still shows up and finishes on the same page
    job_id = _submit_when_back(farm)
    row(page, job_id).locator(".badge.s-succeeded").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "after-server-restart")
    page.context.close()


def _submit_when_back(farm: LocalFarm) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            return farm.submit(EXAMPLES / "hello")
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_for_status(farm: LocalFarm, job_id: str, status: str, timeout: float = 90) -> dict[str, Any]:
    deadline = farm.client("deadline")
    ends = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = deadline.get_job(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id)
        if job["taskRunStatus"] == status or time.monotonic() > ends:
            return job
        time.sleep(0.3)


TWO_STEPS = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "Render and encode",
    "steps": [
        {
            "name": "Render",
            "parameterSpace": {
                "taskParameterDefinitions": [{"name": "Frame", "type": "INT", "range": "1-2"}]
            },
            "script": {"actions": {"onRun": {"command": "echo", "args": ["frame {{Task.Param.Frame}}"]}}},
        },
        {
            "name": "Encode",
            "dependencies": [{"dependsOn": "Render"}],
            "script": {"actions": {"onRun": {"command": "echo", "args": ["encoded"]}}},
        },
    ],
}


def test_the_job_page_draws_its_step_graph_and_its_sessions_on_each_worker(
    chromium: Any, monitor: MonitorFarm
) -> None:
    farm = monitor.farm
    deadline = farm.client("deadline")
    # Given a finished job of two steps, the second depending on the first
    job_id = create_job(deadline, farm, TWO_STEPS)
    assert _wait_for_status(farm, job_id, "SUCCEEDED")["taskRunStatus"] == "SUCCEEDED"
    ids = {"farmId": farm.farm_id, "queueId": farm.queue_id, "jobId": job_id}
    sessions = deadline.list_sessions(**ids)["sessions"]
    # When its page is open
    page = sign_in(chromium, monitor.job_page(job_id), monitor.viewer)
    # Then the graph has a node per step with its progress and an edge from Render to Encode
    graph = page.get_by_role("group", name="Step dependency graph")
    graph.wait_for()
    assert graph.get_by_role("link", name="Step Render: SUCCEEDED, 2 of 2 tasks succeeded").count() == 1
    assert graph.get_by_role("link", name="Step Encode: SUCCEEDED, 1 of 1 tasks succeeded").count() == 1
    assert graph.locator("path.edge").count() == 1
    # And the timeline has one bar per session (one step per session), on its worker's lane
    timeline = page.locator("svg.timeline")
    workers = sorted({s["workerId"] for s in sessions})
    assert f"Sessions of the job on {len(workers)} worker(s)" in (timeline.get_attribute("aria-label") or "")
    bars = timeline.locator("a")
    assert bars.count() == len(sessions) >= 2
    labels = [bars.nth(i).get_attribute("aria-label") or "" for i in range(bars.count())]
    assert sorted(label.split(" on ")[0] for label in labels) == sorted(s["sessionId"] for s in sessions)
    assert all(f"on {s['workerId']}: ENDED" in " ".join(labels) for s in sessions)
    screenshot(page, "job-graph-and-timeline")
    # And a node leads to the step's tasks, each with its status and worker
    graph.get_by_role("link", name="Step Render: SUCCEEDED, 2 of 2 tasks succeeded").click()
    page.wait_for_url("**/steps/step-*")
    page.get_by_text("Frame=2").first.wait_for()
    assert page.locator(".badge.s-succeeded").count() >= 2
    screenshot(page, "step-tasks")
    page.context.close()


def _scheduling(farm: LocalFarm) -> str:
    association = farm.client("deadline").get_queue_fleet_association(
        farmId=farm.farm_id, queueId=farm.queue_id, fleetId=farm.fleet_id
    )
    return str(association["status"])


def test_an_owner_stops_and_starts_the_queues_scheduling_and_a_manager_is_refused(
    chromium: Any, monitor: MonitorFarm
) -> None:
    farm = monitor.farm
    admin = farm.session()
    manager = create_farm_user(admin, farm.url, farm.farm_id, "MANAGER", "manager")
    owner = create_farm_user(admin, farm.url, farm.farm_id, "OWNER", "owner")
    try:
        # A MANAGER presses Stop scheduling: refused with the farm's reason, nothing changes
        page = sign_in(chromium, monitor.queue_page, manager)
        page.get_by_role("group", name="Scheduling of this queue").get_by_role(
            "button", name="Stop scheduling"
        ).click()
        page.locator("#announce").get_by_text("refused").wait_for()
        assert "UpdateQueueFleetAssociation" in page.locator("#announce").inner_text()
        assert _scheduling(farm) == "ACTIVE"
        page.context.close()
        # The queue's OWNER stops it, and starts it again, from the same page
        page = sign_in(chromium, monitor.queue_page, owner)
        group = page.get_by_role("group", name="Scheduling of this queue")
        group.get_by_role("button", name="Stop scheduling").click()
        group.get_by_role("button", name="Start scheduling").wait_for(timeout=WAIT_MS)
        assert _scheduling(farm) in ("STOP_SCHEDULING_AND_COMPLETE_TASKS", "STOPPED")
        screenshot(page, "queue-scheduling-stopped")
        group.get_by_role("button", name="Start scheduling").click()
        group.get_by_role("button", name="Stop scheduling").wait_for(timeout=WAIT_MS)
        assert _scheduling(farm) == "ACTIVE"
        page.context.close()
    finally:
        # the farm is shared by the module's tests: scheduling is left on
        farm.client("deadline").update_queue_fleet_association(
            farmId=farm.farm_id, queueId=farm.queue_id, fleetId=farm.fleet_id, status="ACTIVE"
        )


def test_bulk_actions_ask_first_and_then_act_on_every_selected_job(
    chromium: Any, monitor: MonitorFarm
) -> None:
    farm = monitor.farm
    deadline = farm.client("deadline")
    # Given two jobs held back (SUSPENDED) on a manager's page
    manager = create_farm_user(farm.session(), farm.url, farm.farm_id, "MANAGER", "bulk")
    jobs = [
        create_job(deadline, farm, {**TWO_STEPS, "name": f"Held {i}"}, targetTaskRunStatus="SUSPENDED")
        for i in range(2)
    ]
    page = sign_in(chromium, monitor.queue_page, manager)
    for job_id in jobs:
        row(page, job_id).get_by_role("checkbox").check()
    page.get_by_text("2 selected").wait_for()
    bulk = page.get_by_role("toolbar", name="Actions on the selected jobs")
    # When Cancel is pressed and the confirmation dismissed, nothing changes
    bulk.get_by_role("button", name="Cancel", exact=True).click()
    dialog = page.get_by_role("dialog")
    assert "Cancel the selected jobs (2 job(s))?" in dialog.inner_text()
    screenshot(page, "bulk-cancel-confirmation")
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    dialog.wait_for(state="detached")
    statuses = [
        deadline.get_job(farmId=farm.farm_id, queueId=farm.queue_id, jobId=j)["taskRunStatus"] for j in jobs
    ]
    assert statuses == ["SUSPENDED", "SUSPENDED"]
    # When it is confirmed, both are canceled with one call and shown so without a reload
    bulk.get_by_role("button", name="Cancel", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel 2 job(s)").click()
    for job_id in jobs:
        row(page, job_id).locator(".badge.s-canceled").wait_for(timeout=WAIT_MS)
    statuses = [
        deadline.get_job(farmId=farm.farm_id, queueId=farm.queue_id, jobId=j)["taskRunStatus"] for j in jobs
    ]
    assert statuses == ["CANCELED", "CANCELED"]
    page.context.close()


def _spki_sha256(certificate_pem: bytes) -> str:
    """The base64 SHA-256 of a certificate's public key, as Chromium's SPKI allow-list takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    return base64.b64encode(
        hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()
    ).decode()


def test_the_monitor_over_https_signs_in_with_secure_cookies_and_stays_live(
    chromium: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a farm serving HTTPS with its own CA (`--tls`), and an OWNER of one of its farms
    with ServerProcess(tmp_path / "tls-farm", extra_args=["--tls"]) as server:
        assert server.url.startswith("https://") and server.ca_bundle
        monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_bundle)
        deadline = server.client("deadline")
        farm_id = deadline.create_farm(displayName="Secure farm")["farmId"]
        deadline.create_queue(farmId=farm_id, displayName="Secure queue")
        owner = create_farm_user(server.boto3_session(), server.url, farm_id, "OWNER", "tls-owner")
        farm_page = f"{server.url}/farms/{farm_id}"
        trust = _spki_sha256((server.data_dir / "tls" / "server.pem").read_bytes())
        # A browser that does not know the farm's certificate refuses the page
        untrusting = chromium.new_context()
        with pytest.raises(Exception, match="ERR_CERT"):
            untrusting.new_page().goto(farm_page)
        untrusting.close()
        # When a browser that trusts exactly that certificate opens the farm's page
        with another_chromium(chromium, [f"--ignore-certificate-errors-spki-list={trust}"]) as browser:
            page = sign_in(browser, farm_page, owner)
            # Then it signed in over HTTPS, with cookies that never travel in clear
            assert page.url.startswith("https://")
            cookies = page.context.cookies()
            assert cookies and all(c["secure"] and c["httpOnly"] for c in cookies)
            page.get_by_role("link", name="Secure queue").wait_for()
            # And the page stays live over TLS: a renamed farm shows its new name without a reload
            page.evaluate("window.stillTheSamePage = true")
            deadline.update_farm(farmId=farm_id, displayName="Secure farm, renamed")
            page.get_by_role("heading", name="Secure farm, renamed").wait_for(timeout=WAIT_MS)
            assert page.evaluate("window.stillTheSamePage") is True
            screenshot(page, "farm-over-https")
            page.context.close()


def test_workers_job_searches_and_logs_are_a_few_clicks_away(chromium: Any, monitor: MonitorFarm) -> None:
    farm = monitor.farm
    deadline = farm.client("deadline")
    # Given a finished job whose log says hello
    job_id = farm.submit(EXAMPLES / "hello")
    assert _wait_for_status(farm, job_id, "SUCCEEDED")["taskRunStatus"] == "SUCCEEDED"
    (session,) = deadline.list_sessions(farmId=farm.farm_id, queueId=farm.queue_id, jobId=job_id)["sessions"]
    (worker,) = deadline.list_workers(farmId=farm.farm_id, fleetId=farm.fleet_id)["workers"]
    # The queue's job list finds it by name and filters by status
    page = sign_in(chromium, monitor.queue_page, monitor.viewer)
    page.get_by_role("search", name="Filter jobs").get_by_label("Search").fill(job_id)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**?q={job_id}")
    # (the previous, unfiltered list stays on screen, marked busy, until the filtered one replaces it)
    page.locator("main:not([aria-busy])").wait_for()
    row(page, job_id).wait_for()
    assert page.locator("tr[data-row]").count() == 1
    page.get_by_label("Status").select_option("FAILED")
    page.wait_for_url("**status=FAILED**")
    page.get_by_text("No job matches.").wait_for()
    assert row(page, job_id).count() == 0
    # The fleet's page lists its worker with its host and status; the worker's page shows its own log
    page.goto(f"{farm.url}/farms/{farm.farm_id}/fleets/{farm.fleet_id}")
    link = page.get_by_role("link", name=worker["workerId"])
    link.wait_for()
    assert worker["status"] in page.locator("table.grid").inner_text()
    link.click()
    page.get_by_role("heading", name=f"Worker {worker['workerId']}").wait_for()
    host = worker["hostProperties"]["hostName"]
    assert host in page.locator("dl.facts").inner_text()
    page.get_by_role("log", name=f"Log of worker {worker['workerId']}").locator(".line").first.wait_for()
    screenshot(page, "worker-page")
    # The session's log: filter the lines shown, search the whole stream, download it
    page.goto(f"{monitor.job_page(job_id)}/sessions/{session['sessionId']}")
    log = page.get_by_role("log")
    log.get_by_text("Hello from farmhand!").first.wait_for()
    tools = page.get_by_role("toolbar", name="Log tools")
    tools.get_by_label("Filter").fill("Hello from farmhand")
    assert all("Hello from farmhand" in line for line in log.locator(".line:visible").all_inner_texts())
    tools.get_by_role("button", name="Search whole log").click()
    page.get_by_text("line(s) of the whole log contain “Hello from farmhand”").wait_for()
    with page.expect_download() as download:
        tools.get_by_role("button", name="Download").click()
    saved = Path(download.value.path()).read_text()
    assert "Hello from farmhand!" in saved and saved.count("\n") >= 3
    screenshot(page, "session-log")
    page.context.close()
