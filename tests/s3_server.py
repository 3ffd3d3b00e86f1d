"""A real S3-compatible server for tests (moto's, on 127.0.0.1) and a fault-injecting reverse
proxy to put between it and the writer, with the fixtures that start and stop both.

Tests talk to the server directly (`S3Server.client()`); the writer talks to the proxy, which
counts every request it sees per method and path and injects the faults a test planned:

    writer (boto3) ──HTTP──▶ FaultProxy ──HTTP──▶ moto server ◀──HTTP── test assertions
"""

from __future__ import annotations

import enum
import http.client
import logging
import socket
import struct
import sys
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from moto.server import ThreadedMotoServer

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
# Headers that describe one hop, not the message: never forwarded as they are.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"}
    | {"upgrade", "expect", "content-length"}
)


@dataclass(frozen=True)
class S3Server:
    """Where a running S3-compatible server listens, and clients for it."""

    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self) -> Any:
        """A boto3 S3 client that talks to the server directly (not through a proxy)."""
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def filesystem(self) -> Any:
        """pyarrow's own S3 client on the server (a second, independent reader)."""
        from pyarrow import fs

        return fs.S3FileSystem(
            endpoint_override=f"{self.host}:{self.port}",
            scheme="http",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region=REGION,
        )


class Fault(enum.Enum):
    """What the proxy does to one request instead of relaying it."""

    SLOW_DOWN = "503 SlowDown"
    INTERNAL_ERROR = "500 InternalError"
    RESET = "connection reset"  # the request is read, then the TCP connection reset
    STALL = "stall"  # relayed (it lands), but the reply is withheld, then the connection reset


_ERROR_REPLIES = {
    Fault.SLOW_DOWN: (503, "SlowDown", "Please reduce your request rate."),
    Fault.INTERNAL_ERROR: (500, "InternalError", "We encountered an internal error."),
}


class FaultProxy:
    """A threaded reverse proxy on 127.0.0.1 that relays to `upstream` and injects faults.

    Planned faults wait in a queue; each is used by the next request with its method, in
    order. `hold()` makes requests of a method wait (unanswered) until `release()`.

    Args:
        upstream: the server to relay to.
        stall_s: how long a STALL withholds its reply (keep it above the client's read
            timeout); `stop()` ends every stall at once.
    """

    def __init__(self, upstream: S3Server, stall_s: float) -> None:
        self.upstream = upstream
        self.stall_s = stall_s
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, Fault]] = deque()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._injected: dict[tuple[str, str], list[Fault]] = {}
        self._held_method: str | None = None
        self._released = threading.Event()
        self._released.set()
        self.holding = 0  # requests waiting in hold() right now
        self._stopping = threading.Event()
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ plan
    def inject(self, *faults: Fault, method: str = "PUT") -> None:
        """Queue faults for the next requests with `method`, one request each."""
        with self._lock:
            self._faults.extend((method, fault) for fault in faults)

    def hold(self, method: str = "PUT") -> None:
        """Keep requests with `method` waiting, unanswered, until release()."""
        with self._lock:
            self._held_method = method
            self._released.clear()

    def release(self) -> None:
        """Let held requests (and later ones) through."""
        with self._lock:
            self._held_method = None
            self._released.set()

    @property
    def faults_left(self) -> int:
        with self._lock:
            return len(self._faults)

    # ------------------------------------------------------------------ what was seen
    def requests(self, method: str) -> dict[str, int]:
        """How many requests with `method` reached the proxy, per unquoted path."""
        with self._lock:
            return {path: n for (m, path), n in self._requests.items() if m == method}

    def injected(self, method: str) -> dict[str, list[Fault]]:
        """The faults injected into requests with `method`, per unquoted path."""
        with self._lock:
            return {path: list(f) for (m, path), f in self._injected.items() if m == method}

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; stalled and held requests end at once."""
        self._stopping.set()
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ per request
    def _admit(self, method: str, path: str) -> Fault | None:
        """Count a request, hold it if asked, then take the fault planned for it (if any)."""
        with self._lock:
            self._requests[method, path] += 1
            held = self._held_method == method
            self.holding += held
        if held:
            # Woken by release() or stop(), on another thread.
            while not self._released.wait(0.05) and not self._stopping.is_set():
                pass
            with self._lock:
                self.holding -= 1
        with self._lock:
            for planned in self._faults:
                if planned[0] == method:
                    self._faults.remove(planned)
                    self._injected.setdefault((method, path), []).append(planned[1])
                    return planned[1]
        return None


class _ProxyServer(ThreadingHTTPServer):
    # A handler stuck on a dead client's keep-alive socket is no reason to wait at close.
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], proxy: FaultProxy
    ) -> None:
        self.proxy = proxy
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if request.fileno() == -1 or isinstance(sys.exc_info()[1], ConnectionError):
            return  # a connection we reset on purpose, or a client that was killed
        super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request on stderr would bury the test output

    def _relay(self) -> None:
        body = self._read_body()  # always: an unread body would corrupt the next request
        proxy = self.server.proxy
        fault = proxy._admit(self.command, unquote(urlsplit(self.path).path))
        if fault is None:
            self._reply(*self._forward(body))
        elif fault in _ERROR_REPLIES:
            self._reply_error(*_ERROR_REPLIES[fault])
        elif fault is Fault.RESET:
            self._reset()
        else:
            self._forward(body)
            proxy._stopping.wait(proxy.stall_s)
            self._reset()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = self.server.proxy.upstream
        conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            has_body = bool(body) or self.command in ("PUT", "POST")
            conn.request(self.command, self.path, body=body if has_body else None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        finally:
            conn.close()

    def _reply(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            # A HEAD reply keeps the object's Content-Length; any other gets its body's.
            if name.lower() not in _HOP_BY_HOP or (
                self.command == "HEAD" and name.lower() == "content-length"
            ):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reply_error(self, status: int, code: str, message: str) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>fault-proxy</RequestId></Error>"
        ).encode()
        self._reply(status, "", [("Content-Type", "application/xml")], body)

    def _reset(self) -> None:
        # SO_LINGER(1, 0) turns close() into an RST. rfile and wfile hold references to the
        # socket: close them too, or the descriptor stays open and the client just waits.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()
        self.wfile.close()
        self.connection.close()


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(name="s3_server", scope="session")
def s3_server_fixture() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 with a free port, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # it logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(host, port)
    finally:
        server.stop()


@pytest.fixture(name="s3_env")
def s3_env_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region in the environment, which an auto-started writer inherits
    (so request this before creating a logger)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="s3_bucket")
def s3_bucket_fixture(s3_server: S3Server) -> str:
    """A new, empty bucket on the server (one per test, so tests share nothing)."""
    name = f"llm-logs-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(name="fault_proxy")
def fault_proxy_fixture(s3_server: S3Server) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the server, stopped at teardown.

    Request it before `log_dir`/`make_logger`: fixtures are torn down in reverse, so the
    writer then exits (uploads drained) while the proxy still relays.
    """
    proxy = FaultProxy(s3_server, stall_s=5.0)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
