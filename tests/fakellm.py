"""A fake LLM server for tests: real HTTP, speaking OpenAI chat completions and Anthropic Messages.

The real `openai` and `anthropic` SDKs talk to it through their base URL. A responder function
(one per model name, or one for all) decides each answer: a scripted reply, or a fault (HTTP
error with headers, a hang past the client's timeout, malformed JSON, empty content).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Call:
    """One request as the server saw it."""

    protocol: str  # "openai" | "anthropic"
    model: str
    system: str
    user: str
    headers: dict[str, str]
    body: dict


@dataclass(frozen=True)
class Reply:
    text: str
    tokens_in: int | None = None  # default: len(prompt) // 4
    tokens_out: int | None = None  # default: len(text) // 4
    truncated: bool = False  # finish as if the output token cap was hit


@dataclass(frozen=True)
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected fault"


@dataclass(frozen=True)
class Hang:
    seconds: float = 30.0


@dataclass(frozen=True)
class Malformed:
    """A 200 response whose JSON body is cut off."""


Action = Reply | Fault | Hang | Malformed
Responder = Callable[[Call], Action]


def parent_code(call: Call) -> str:
    """The current program from a prompt built by the shipped templates."""
    match = re.search(r"## Current program[^\n]*\n+```python\n(.*?)\n```", call.user, re.S)
    if not match:
        raise AssertionError("prompt has no '## Current program' block")
    return match.group(1) + "\n"


class FakeLLM:
    def __init__(self, responders: dict[str, Responder] | Responder):
        self._responders = responders
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FakeLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def calls_for(self, model: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.model == model]

    def _respond(self, call: Call) -> Action:
        with self._lock:
            self.calls.append(call)
        if callable(self._responders):
            return self._responders(call)
        return self._responders[call.model](call)

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.endswith("/chat/completions"):
                    protocol = "openai"
                    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
                    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
                elif self.path.endswith("/v1/messages"):
                    protocol = "anthropic"
                    system = body.get("system", "")
                    content = body["messages"][0]["content"]
                    user = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                call = Call(protocol, body.get("model", ""), system, user, {k.lower(): v for k, v in self.headers.items()}, body)
                action = fake._respond(call)
                match action:
                    case Reply():
                        self._send(200, _success(call, action))
                    case Fault():
                        self._send(action.status, _error(protocol, action), action.headers)
                    case Hang():
                        fake._closing.wait(action.seconds)
                        self._send(200, _success(call, Reply("too late")))
                    case Malformed():
                        self._send_raw(200, b'{"id": "x", "choices": [{"message": ', {})

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                self._send_raw(status, json.dumps(payload).encode(), headers or {})

            def _send_raw(self, status: int, data: bytes, headers: dict) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to answer

        return Handler


def _success(call: Call, reply: Reply) -> dict:
    tokens_in = reply.tokens_in if reply.tokens_in is not None else len(call.system + call.user) // 4
    tokens_out = reply.tokens_out if reply.tokens_out is not None else len(reply.text) // 4
    if call.protocol == "openai":
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": call.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "length" if reply.truncated else "stop"}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out},
        }
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": [{"type": "text", "text": reply.text}] if reply.text else [],
        "stop_reason": "max_tokens" if reply.truncated else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
    }


def _error(protocol: str, fault: Fault) -> dict:
    if protocol == "openai":
        return {"error": {"message": fault.message, "type": "fake_error", "code": str(fault.status)}}
    kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(fault.status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": fault.message}}
