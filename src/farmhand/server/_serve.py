"""Run the farm server: bind, set up the runtime, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import errno
import gc
import logging
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from ._app import FarmApp
from ._runtime import ServerConfig, ServerRuntime
from .worker_plane import work_signal


class PortInUseError(RuntimeError):
    """The requested port is taken: said plainly instead of a traceback."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"port {port} on {host} is already in use") from exc
        raise
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, tls: bool = False) -> str:
    host, port = sock.getsockname()[:2]
    return f"{'https' if tls else 'http'}://{'[' + host + ']' if ':' in host else host}:{port}"


def set_aside_startup_objects() -> None:
    """Keep what the server built to start (service models, tables, compiled statements) out of the
    collector's full passes: each walks every tracked object while holding the GIL, and with thousands
    of long polls held those passes are what delays the calls that hand out work."""
    gc.collect()
    gc.freeze()


def serve(config: ServerConfig, on_ready: Callable[[str, ServerRuntime], None] | None = None) -> None:
    """Serve until a signal stops the server; `on_ready` gets the URL once requests are accepted."""
    sock = bind(config.host, config.port)
    runtime = ServerRuntime(config)
    app = FarmApp(runtime)
    tls = config.tls
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
    )
    url = url_of(sock, tls is not None)

    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original_startup(sockets=sockets)
        set_aside_startup_objects()
        if on_ready is not None:
            on_ready(url, runtime)

    server.startup = startup  # type: ignore[method-assign]

    original_handle_exit = server.handle_exit

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        """Release held long polls and end the monitor's event streams at once, so shutdown does not
        wait out their timeouts."""
        runtime.stopping.set()
        work_signal(runtime).notify()
        app.changes.stop()
        original_handle_exit(sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    try:
        server.run(sockets=[sock])
    finally:
        runtime.close()
        sock.close()
        logging.getLogger("farmhand.server").info("server stopped")
