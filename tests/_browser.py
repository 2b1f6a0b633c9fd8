"""A person at a browser, for sign-in tests: opens the farm's sign-in page, signs in, approves a code.

It speaks plain HTTP with a cookie jar, as a browser does (cookies, the form's hidden fields,
303 redirects). Run as a script it is a `BROWSER` command: `python _browser.py URL` signs in as
$FARMHAND_TEST_USER / $FARMHAND_TEST_PASSWORD and approves the code in URL.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

_HIDDEN = re.compile(r'<input type=hidden name="([^"]+)" value="([^"]*)">')


@dataclass
class Page:
    status: int
    url: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    def hidden(self) -> dict[str, str]:
        import html

        return {name: html.unescape(value) for name, value in _HIDDEN.findall(self.text)}


class Browser:
    def __init__(self, cafile: str | None = None) -> None:
        self.cookies = http.cookiejar.CookieJar()
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPCookieProcessor(self.cookies)]
        if cafile:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
        self.opener = urllib.request.build_opener(*handlers)

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self.opener.open(request, timeout=30) as answer:
                return Page(answer.status, answer.url, answer.read().decode(), dict(answer.headers))
        except urllib.error.HTTPError as error:
            return Page(error.code, error.url, error.read().decode(), dict(error.headers))

    def get(self, url: str) -> Page:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Page:
        data = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(url, data=data, method="POST", headers=headers or {}))

    def sign_in(self, page_url: str, user: str, password: str) -> Page:
        """Open the page and submit the sign-in form with its hidden fields (CSRF, code)."""
        form_page = self.get(page_url)
        action = urllib.parse.urljoin(page_url, "/signin")
        return self.post(action, {**form_page.hidden(), "user_name": user, "password": password})

    def decide(self, page: Page, decision: str = "approve") -> Page:
        """Press Approve (or Deny) on the approval page."""
        return self.post(
            urllib.parse.urljoin(page.url, "/signin/device"), {**page.hidden(), "decision": decision}
        )


def approve(url: str, user: str, password: str, cafile: str | None = None) -> Page:
    """Sign in at `url` (a device code's complete address) and approve its code."""
    browser = Browser(cafile)
    approval = browser.sign_in(url, user, password)
    if "Approve sign-in" not in approval.text:
        raise RuntimeError(f"no approval page after signing in ({approval.status}): {approval.text[:500]}")
    return browser.decide(approval)


if __name__ == "__main__":
    done = approve(
        sys.argv[1],
        os.environ["FARMHAND_TEST_USER"],
        os.environ["FARMHAND_TEST_PASSWORD"],
        os.environ.get("FARMHAND_TEST_CAFILE"),
    )
    sys.exit(0 if "Sign-in approved" in done.text else 1)
