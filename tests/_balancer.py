"""A TCP load balancer for tests of several farm servers: each connection goes to the first live backend.

Backends are tried in the order given, so a balancer with backends (A, B) sends its clients to A and
fails them over to B once A refuses connections (killed) — what an HTTP load balancer with health
checks does for the clients of a node that died. Open connections to a dead backend simply break,
and the clients reconnect through the balancer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

CONNECT_TIMEOUT_SECONDS = 2.0


class Balancer:
    def __init__(self, backends: list[str]) -> None:
        """`backends`: URLs such as `http://127.0.0.1:8080`, in order of preference."""
        self.backends = [_host_port(url) for url in backends]
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="balancer", daemon=True)
        self.connections_to: dict[tuple[str, int], int] = {}

    def start(self) -> Balancer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        backend = None
        for address in self.backends:
            try:
                backend = socket.create_connection(address, timeout=CONNECT_TIMEOUT_SECONDS)
            except OSError:
                continue
            with self._lock:
                self.connections_to[address] = self.connections_to.get(address, 0) + 1
            break
        if backend is None:
            client.close()
            return
        backend.settimeout(None)
        for sock in (client, backend):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.update((client, backend))
        threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()
        self._pipe(client, backend)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)


def _host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1].rstrip("/")
    host, port = rest.rsplit(":", 1)
    return host, int(port)
