"""Live updates for monitor pages: a server-sent event whenever the farm changed.

The farm counts its committed changes by topic (`deadline`: jobs, tasks, workers...; `logs`: log
lines); an open page holds one `text/event-stream` response and gets the counters each time they
move (at most every `COALESCE_SECONDS`), then reads what it shows again through the API, so an event
carries no farm data and needs no access check of its own. An idle stream costs a parked coroutine:
nothing wakes it but a change, a heartbeat, or the server stopping. The browser's EventSource
reconnects by itself (`retry`), so a page survives a server restart; each server start has its own
`instance` id, which tells a page that it may have missed changes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["COALESCE_SECONDS", "HEARTBEAT_SECONDS", "TOPICS", "ChangeFeed", "stream_changes"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TOPICS = ("deadline", "logs")
COALESCE_SECONDS = 0.15
HEARTBEAT_SECONDS = 25.0
RECONNECT_MILLISECONDS = 1000


class ChangeFeed:
    """Change counters by topic, bumped from request threads and awaited by event streams."""

    def __init__(self) -> None:
        self.instance = secrets.token_hex(8)
        self.counts = dict.fromkeys(TOPICS, 0)
        self.stopped = False
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._moved: asyncio.Event | None = None
        self.streams = 0

    def changed(self, topic: str) -> None:
        """A change of `topic` was committed (any thread)."""
        with self._lock:
            self.counts[topic] = self.counts.get(topic, 0) + 1
            loop = self._loop if self.streams else None
        if loop is not None:
            loop.call_soon_threadsafe(self._wake)

    def stop(self) -> None:
        """The server is stopping: end every stream so shutdown does not wait for them."""
        self.stopped = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"instance": self.instance, **self.counts}

    def _wake(self) -> None:
        if self._moved is not None:
            self._moved.set()
            self._moved = asyncio.Event()

    def _event(self) -> asyncio.Event:
        """The event the next change sets (created on the event loop's thread)."""
        if self._moved is None:
            self._loop = asyncio.get_running_loop()
            self._moved = asyncio.Event()
        return self._moved

    async def wait(self, timeout: float, gone: asyncio.Event) -> None:
        """Until something changes, the server stops, the page goes (`gone`) or `timeout` passes."""
        moved = self._event()
        if self.stopped or gone.is_set():
            return
        waiters = {asyncio.ensure_future(moved.wait()), asyncio.ensure_future(gone.wait())}
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def stream_changes(
    feed: ChangeFeed, receive: Receive, send: Send, still_signed_in: Callable[[], Awaitable[bool]]
) -> None:
    """Answer one page's event stream until it goes away, its user is signed out or the server stops."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                (b"x-accel-buffering", b"no"),
            ],
        }
    )
    gone = asyncio.Event()

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch_disconnect())
    feed._event()
    feed.streams += 1
    try:
        sent = feed.snapshot()
        first = f"retry: {RECONNECT_MILLISECONDS}\n".encode() + _event("hello", sent)
        await send({"type": "http.response.body", "body": first, "more_body": True})
        while not gone.is_set() and not feed.stopped:
            await feed.wait(HEARTBEAT_SECONDS, gone)
            if gone.is_set() or feed.stopped:
                break
            now = feed.snapshot()
            if now == sent:
                # A heartbeat: keeps proxies from closing the stream, and notices a sign-out.
                if not await still_signed_in():
                    signed_out = _event("signedout", {})
                    await send({"type": "http.response.body", "body": signed_out, "more_body": True})
                    break
                await send({"type": "http.response.body", "body": b": heartbeat\n\n", "more_body": True})
                continue
            await asyncio.sleep(COALESCE_SECONDS)  # a burst of changes becomes one event
            sent = feed.snapshot()
            await send({"type": "http.response.body", "body": _event("change", sent), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the page went away mid-write
    finally:
        feed.streams -= 1
        watcher.cancel()
