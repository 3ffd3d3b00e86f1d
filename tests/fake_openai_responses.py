"""A fake OpenAI Responses API on 127.0.0.1 for tests that drive the real `openai` client.

`GET /v1/responses/{id}` plays each id's script, one step per request: a status (`queued`,
`in_progress`, `completed`, `failed`, `incomplete`, `cancelled`) or a fault (`RateLimited`,
`ServerError`, `Dropped`, `Slow`, `Quota`, `NotFound`). Once the script is used up its last
status repeats. `POST /v1/responses` creates a background response that is `queued`, then
`in_progress`, then `completed`. Every request is counted per id (`server.requests(id)`).
"""

from __future__ import annotations

import itertools
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.loopback_server import LoopbackServer, send_json

STATUSES = frozenset({"queued", "in_progress", "completed", "failed", "incomplete", "cancelled"})


@dataclass(frozen=True)
class RateLimited:
    """429 with `retry-after-ms` (or `Retry-After` in whole seconds when `retry_after_s`)."""

    retry_after_ms: int | None = 10
    retry_after_s: int | None = None


@dataclass(frozen=True)
class ServerError:
    """An HTTP error status (5xx by default, or e.g. 409) with an OpenAI error body."""

    status: int = 500


@dataclass(frozen=True)
class Dropped:
    """The connection is closed without any reply."""


@dataclass(frozen=True)
class Slow:
    """Reply `status` after `delay_s` (longer than the client's timeout: a timeout)."""

    delay_s: float
    status: str = "completed"


@dataclass(frozen=True)
class Quota:
    """429 `insufficient_quota`: never worth a retry."""


@dataclass(frozen=True)
class NotFound:
    """404, as for an unknown or expired response."""


Step = str | RateLimited | ServerError | Dropped | Slow | Quota | NotFound


def response_json(response_id: str, status: str) -> dict[str, Any]:
    """A Response object as the API returns it, with output text for finished responses."""
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": 1_764_000_000,
        "status": status,
        "background": True,
        "model": "gpt-fake",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": None,
    }
    if status in ("completed", "incomplete"):
        text = f"answer for {response_id}"
        body["output"] = [
            {
                "id": f"msg_{response_id}",
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ]
        body["usage"] = {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 12,
        }
    if status == "incomplete":
        body["incomplete_details"] = {"reason": "max_output_tokens"}
    if status == "failed":
        body["error"] = {"code": "server_error", "message": "the model failed"}
    return body


class FakeResponsesServer(LoopbackServer):
    """The server and its per-id scripts; `start()` serves from a thread, `stop()` ends it."""

    def __init__(self, default: tuple[Step, ...] = ()) -> None:
        self._default = list(default)  # the script of ids never `add`ed (none: 404)
        self._lock = threading.Lock()
        self._scripts: dict[str, list[Step]] = {}
        self._position: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()
        self._created = itertools.count(1)
        super().__init__(_Server(("127.0.0.1", 0), _handler_for(self)), poll_interval_s=0.05)

    def add(self, response_id: str, *steps: Step) -> None:
        """Script `response_id`: one step per GET, the last status repeating."""
        if not steps:
            raise ValueError("a script needs at least one step")
        with self._lock:
            self._scripts[response_id] = list(steps)
            self._position[response_id] = 0

    def requests(self, response_id: str) -> int:
        """How many GETs reached the server for `response_id` (faults included)."""
        with self._lock:
            return self._requests[response_id]

    def total_requests(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    def next_step(self, response_id: str) -> Step | None:
        """Count a GET of `response_id` and return its step (None: unknown id)."""
        with self._lock:
            self._requests[response_id] += 1
            script = self._scripts.get(response_id)
            if script is None:
                if not self._default:
                    return None
                script = self._scripts[response_id] = self._default
            position = self._position[response_id]
            if position < len(script):
                self._position[response_id] = position + 1
                return script[position]
            statuses = [_status_of(step) for step in script if _status_of(step)]
            return statuses[-1] if statuses else script[-1]

    def create(self) -> str:
        """A new background response: queued, then in_progress, then completed."""
        response_id = f"resp_created_{next(self._created)}"
        self.add(response_id, "in_progress", "completed")
        return response_id


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 refuses bursts of new connections
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or was killed resets its connection: expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _handler_for(server: FakeResponsesServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK stall every reply by ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            prefix = "/v1/responses/"
            if not self.path.startswith(prefix):
                self._reply(404, _error("not_found", f"no route {self.path}"))
                return
            response_id = self.path[len(prefix) :].split("?", 1)[0]
            self._play(response_id, server.next_step(response_id))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/responses":
                self._reply(404, _error("not_found", f"no route {self.path}"))
                return
            self._reply(200, response_json(server.create(), "queued"))

        def _play(self, response_id: str, step: Step | None) -> None:
            if step is None or isinstance(step, NotFound):
                self._reply(404, _error("not_found", f"No response with id '{response_id}'."))
            elif isinstance(step, str):
                self._reply(200, response_json(response_id, step))
            elif isinstance(step, RateLimited):
                headers = {}
                if step.retry_after_s is not None:
                    headers["Retry-After"] = str(step.retry_after_s)
                elif step.retry_after_ms is not None:
                    headers["retry-after-ms"] = str(step.retry_after_ms)
                self._reply(429, _error("rate_limit_exceeded", "slow down"), headers)
            elif isinstance(step, Quota):
                self._reply(429, _error("insufficient_quota", "You exceeded your quota."))
            elif isinstance(step, ServerError):
                self._reply(step.status, _error("server_error", "try again"))
            elif isinstance(step, Slow):
                time.sleep(step.delay_s)
                self._reply(200, response_json(response_id, step.status))
            else:  # Dropped
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        def _reply(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None):
            try:
                send_json(self, code, body, headers)
            except OSError:  # the client gave up (timeout) and closed the connection
                self.close_connection = True

    return Handler


def _status_of(step: Step) -> str | None:
    """The status a step replies with (None for a fault)."""
    if isinstance(step, str):
        return step
    return step.status if isinstance(step, Slow) else None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}
