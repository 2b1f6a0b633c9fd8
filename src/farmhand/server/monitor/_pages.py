"""The monitor's pages on the farm's listener: the page shell, its static script and style, the
operations table and the event stream.

Every page path (`/`, `/farms/...`, `/workers/...`) answers the same small HTML shell; the script
draws the view its path names. The shell carries the signed-in user's name and the CSRF token its
API calls send; a browser that is not signed in is sent to the farm's sign-in page. Scripts and
styles are files of this package (no build step, no CDN), served with a content hash in their URL so
browsers may keep them; the Content-Security-Policy lets a page run nothing but them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import mimetypes
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

import anyio.to_thread

from ..sign_in import SIGN_IN_PATH, SIGN_OUT_PATH
from ._events import ChangeFeed, stream_changes
from ._operations import operations_document
from ._session import CSRF_HEADER, MonitorSession, MonitorSessions

__all__ = ["MONITOR_PREFIX", "MonitorPages"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MONITOR_PREFIX = "/monitor/"
STATIC_PREFIX = "/monitor/static/"
EVENTS_PATH = "/monitor/events"
OPERATIONS_PATH = "/monitor/operations.json"
# Paths the page shell answers (the script routes within them).
_PAGE_ROOTS = ("/farms", "/workers")

_SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer: `Origin: null` on our own calls
)


@dataclass(frozen=True)
class _Asset:
    body: bytes
    content_type: str
    version: str


def _load_assets() -> dict[str, _Asset]:
    found: dict[str, _Asset] = {}
    for entry in resources.files(__package__).joinpath("static").iterdir():
        if not entry.is_file():
            continue
        body = entry.read_bytes()
        kind = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        found[entry.name] = _Asset(body, kind, hashlib.sha256(body).hexdigest()[:16])
    return found


def is_page_path(path: str) -> bool:
    return path == "/" or any(path == root or path.startswith(root + "/") for root in _PAGE_ROOTS)


class MonitorPages:
    """Answers the monitor's GET requests (the API calls its script makes go through the API)."""

    def __init__(self, sessions: MonitorSessions, feed: ChangeFeed) -> None:
        self.sessions = sessions
        self.feed = feed
        self.assets = _load_assets()

    def serves(self, method: str, path: str) -> bool:
        return method in ("GET", "HEAD") and (path.startswith(MONITOR_PREFIX) or is_page_path(path))

    async def __call__(self, scope: Any, receive: Receive, send: Send, headers: Mapping[str, str]) -> None:
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        head = scope["method"] == "HEAD"
        if path.startswith(STATIC_PREFIX):
            asset = self.assets.get(path[len(STATIC_PREFIX) :])
            if asset is None:
                await _answer(send, 404, b"no such file\n", "text/plain; charset=utf-8", head=head)
                return
            cache = b"public, max-age=31536000, immutable" if scope.get("query_string") else b"no-cache"
            await _answer(send, 200, asset.body, asset.content_type, [(b"cache-control", cache)], head=head)
            return
        if path == OPERATIONS_PATH:
            await _answer(send, 200, operations_document(), "application/json", head=head)
            return
        now = dt.datetime.now(dt.UTC)
        session = await anyio.to_thread.run_sync(self.sessions.page_session, headers, now)
        if path == EVENTS_PATH:
            if session is None or head:
                status = 401 if session is None else 200
                await _answer(send, status, b"", "text/event-stream; charset=utf-8", head=True)
                return

            async def still_signed_in() -> bool:
                moment = dt.datetime.now(dt.UTC)
                return await anyio.to_thread.run_sync(self.sessions.page_session, headers, moment) is not None

            await stream_changes(self.feed, receive, send, still_signed_in)
            return
        if not is_page_path(path):
            await _answer(send, 404, b"no such page\n", "text/plain; charset=utf-8", head=head)
            return
        if session is None:
            query = scope.get("query_string", b"").decode("latin-1")
            here = path + (f"?{query}" if query else "")
            target = f"{SIGN_IN_PATH}?next={quote(here, safe='/')}"
            await _answer(send, 303, b"", "text/plain", [(b"location", target.encode())], head=head)
            return
        await _answer(send, 200, self._shell(session), "text/html; charset=utf-8", head=head)

    def _asset_url(self, name: str) -> str:
        return f"{STATIC_PREFIX}{name}?v={self.assets[name].version}"

    def _shell(self, session: MonitorSession) -> bytes:
        e = html.escape
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<meta name=farmhand-csrf content='{e(session.csrf)}'>"
            f"<meta name=farmhand-csrf-header content='{CSRF_HEADER}'>"
            f"<meta name=farmhand-user content='{e(session.user_name)}'>"
            f"<meta name=farmhand-sign-out content='{SIGN_OUT_PATH}'>"
            "<title>farmhand monitor</title>"
            f"<link rel=icon href='{self._asset_url('favicon.svg')}' type='image/svg+xml'>"
            f"<link rel=stylesheet href='{self._asset_url('monitor.css')}'>"
            f"<script type=module src='{self._asset_url('monitor.js')}'></script>"
            "</head><body><a class=skip href='#main'>Skip to content</a>"
            "<noscript><p>The farmhand monitor needs JavaScript.</p></noscript>"
            "</body></html>"
        ).encode()


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *_SECURITY_HEADERS,
        *(extra or []),
    ]
    if not any(name == b"cache-control" for name, _ in headers):
        headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
