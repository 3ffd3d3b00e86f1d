"""The life cycle shared by the suite's fake web APIs: an HTTP server on 127.0.0.1 (a free
port), served from a thread, always stopped by the fixture that started it."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Self


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
