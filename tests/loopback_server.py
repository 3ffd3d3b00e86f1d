"""The life cycle shared by the suite's fake web APIs: an HTTP server on 127.0.0.1 (a free
port), served from a thread, always stopped by the fixture that started it."""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) that a real HTTP client can load:
    32 concurrent `ainvoke`s or a tight loop of sync calls."""

    # The default backlog of 5 refuses a burst of new connections (the async clients then
    # see connection errors).
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # BaseHTTPRequestHandler sends the headers and the body in two writes: with Nagle's
        # algorithm the body waits for the client's delayed ACK, ~40-50 ms per response.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or was killed resets its connection: expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """Serves `server` from a daemon thread; `base_url` ends in `/v1` (OpenAI-style)."""

    def __init__(self, server: ThreadingHTTPServer, poll_interval_s: float = 0.5) -> None:
        server.daemon_threads = True
        self._httpd = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(poll_interval_s,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    """Answer the request `handler` serves with `body` as JSON (and any extra headers)."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
