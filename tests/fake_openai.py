"""A small fake of OpenAI's chat-completions endpoint on 127.0.0.1, for `ChatOpenAI` tests
with a real `openai` client underneath.

`POST /v1/chat/completions` answers with: a JSON object built from the schema for
`response_format: json_schema`, a call of the first (or forced) tool when tools are given, and
`echo: <last user message>` otherwise. `fail_next(status, times)` injects HTTP errors;
`usage` is the usage object every answer reports.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback_server import LoopbackHTTPServer, LoopbackServer, send_json

_USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


class FakeOpenAI(LoopbackServer):
    """The server; `base_url` is what `ChatOpenAI(base_url=...)` takes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.usage: dict[str, Any] = dict(_USAGE)
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        super().__init__(LoopbackHTTPServer(_make_handler(self)))

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with HTTP `status` (e.g. 429, 500)."""
        with self._lock:
            self._failures += [(status, dict(headers or {}))] * times

    def take_failure(self, body: dict[str, Any]) -> tuple[int, dict[str, str]] | None:
        with self._lock:
            self.requests.append(body)
            return self._failures.pop(0) if self._failures else None


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "x"}})
                return
            failure = fake.take_failure(body)
            if failure is not None:
                status, headers = failure
                error = {"message": f"injected {status}", "type": "server_error", "code": None}
                self._send(status, {"error": error}, headers)
                return
            self._send(200, completion(body, fake.usage))

        def _send(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            send_json(self, status, payload, headers)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def completion(body: dict[str, Any], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chat completion the fake answers `body` with."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    response_format = body.get("response_format") or {}
    tools = body.get("tools") or []
    if response_format.get("type") == "json_schema":
        schema = response_format["json_schema"].get("schema") or {}
        message["content"] = json.dumps(example_of(schema))
    elif tools:
        tool = _chosen_tool(tools, body.get("tool_choice"))
        arguments = json.dumps(example_of(tool.get("parameters") or {}))
        function = {"name": tool["name"], "arguments": arguments}
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": function}]
        finish = "tool_calls"
    else:
        message["content"] = f"echo: {_last_user_text(body.get('messages') or [])}"
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage or _USAGE,
    }


def _chosen_tool(tools: list[dict[str, Any]], choice: Any) -> dict[str, Any]:
    functions = [t.get("function", {}) for t in tools]
    if isinstance(choice, dict):
        wanted = choice.get("function", {}).get("name")
        for function in functions:
            if function.get("name") == wanted:
                return function
    return functions[0]


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def example_of(schema: dict[str, Any]) -> Any:
    """A value that satisfies a simple JSON schema (objects, arrays, scalars, enums)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: example_of(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_of(schema.get("items") or {"type": "string"})]
    return {"string": "fake text", "number": 0.5, "integer": 1, "boolean": True}.get(
        kind if isinstance(kind, str) else "string", "fake text"
    )


def running() -> Iterator[FakeOpenAI]:
    """Start a fake server; stop it when the generator is closed (for pytest fixtures)."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()
