"""The web monitor in a real browser (Debian's headless Chromium) against a real farm with a worker:
sign in on the farm's page, watch a job submitted through the API finish without a reload, open a
failed task's log from the job list, cancel a job as its CONTRIBUTOR and be refused as a VIEWER, and
keep the page live across a crash of the server. Screenshots are kept in `test-artifacts/monitor/`."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from _chromium import screenshot
from _monitor_farm import PASSWORD, FarmUser, create_farm_user, user_session
from farmhand.testing import LocalFarm

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
    answer = deadline.create_job(
        farmId=farm.farm_id,
        queueId=farm.queue_id,
        template=json.dumps(template),
        templateType="JSON",
        priority=90,
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
