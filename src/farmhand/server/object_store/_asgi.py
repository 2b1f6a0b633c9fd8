"""What the S3 endpoint's parts share: ASGI types, the request as parsed, and its worker threads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["IO_THREADS", "Message", "Receive", "S3Request", "Scope", "Send", "in_thread"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Hashing and file writes of large bodies, and blob reads: off the event loop.
IO_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="farmhand-s3-io")


@dataclass
class S3Request:
    """One S3 request: where it goes (bucket, key, query) and whether its body was read."""

    method: str
    raw_path: str
    query: dict[str, str]
    query_pairs: list[tuple[str, str]]
    headers: Mapping[str, str]
    bucket: str
    key: str
    request_id: str
    body_read: bool = False

    @property
    def has_body(self) -> bool:
        length = self.headers.get("content-length", "0")
        return "transfer-encoding" in self.headers or not length.isdigit() or int(length) > 0


async def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(IO_THREADS, lambda: function(*args, **kwargs))
