"""A stand-in for vLLM's OpenAI-compatible server, for tests (not itself a test module).

It listens on 127.0.0.1 on an ephemeral port, in a thread, and answers `POST /v1/chat/completions`
and `POST /v1/completions` in the shape vLLM documents (`id`, `object`, `created`, `model`,
`choices[{index, message{role, content} | text, logprobs, finish_reason, stop_reason}]`, `usage`),
and errors as `{"error": {"message", "type", "param", "code"}}`.

Behaviour is scripted per request: queue `Reply`s with `server.script(...)` (taken in order of
arrival), or set `server.rule = lambda request: Reply(...) | None` to decide from the request
body (for example by its `seed`, which stays stable when requests arrive concurrently). With
neither, the server answers with `server.content(request)`, by default a well-formed tagged
statement. Every request is recorded in `server.requests`; `hold_until_in_flight=k` makes each
request wait (up to `hold_timeout` seconds) until `k` requests are in flight at once, so a test
can tell concurrent clients from sequential ones by `server.max_in_flight`, without timing.

Other fakes subclass `FakeOpenAIServer` and add routes to `routes`, with the same scripting
(`vllm_pooling_fake_server.FakePoolingServer` for reward models).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A private header between a route and `_send`: send the body one byte per this many seconds.
TRICKLE_HEADER = "X-Fake-Trickle"


@dataclass
class Reply:
    """What to answer one request with.

    `kind`: "ok" (a completion whose text is `content`, or the server's default content when
    `content` is None), "status" (HTTP `status` with an error body, `retry_after` seconds in a
    header when given), "slow" (sleep `delay` seconds, then answer ok), "malformed" (HTTP 200 with
    a body that is not JSON: `content`, or an HTML error page), "non_object" (HTTP 200 with a JSON list), "empty" (a completion with
    empty text), "truncated" (`content` cut short, `finish_reason` "length"), "drop" (close the
    connection without answering), "trickle" (send the headers, then the answer one byte every
    `delay` seconds), "hang" (read the request and never answer, until the server stops).
    Routes of a subclass may read kinds of their own.
    """

    kind: str = "ok"
    content: str | None = None
    status: int = 200
    retry_after: float | str | None = None
    delay: float = 0.0
    finish_reason: str = "stop"


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)


def good_statement(body: dict[str, Any]) -> str:
    """A plausible tagged answer that mentions the request's seed (to tell samples apart)."""
    seed = body.get("seed")
    return (
        "Some thinking about the views first.\n"
        "<statement>We agree that the question matters to everyone in the group, and that any "
        "answer should weigh costs against benefits. Most of us lean towards a careful yes, "
        f"while some want stronger safeguards first (sample seed {seed}).</statement>"
    )


class FakeOpenAIServer:
    """Threaded HTTP server; use as a context manager. `url` is the base URL ending in `/v1`."""

    def __init__(
        self,
        *,
        model: str = "fake/model-7b",
        content: Callable[[dict[str, Any]], str] = good_statement,
        hold_until_in_flight: int = 0,
        hold_timeout: float = 5.0,
    ):
        self.model = model
        self.content = content
        self.rule: Callable[[RecordedRequest], Reply | None] | None = None
        self.hold_until_in_flight = hold_until_in_flight
        self.hold_timeout = hold_timeout
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.routes: dict[str, Callable[[RecordedRequest], tuple[int, dict[str, str], bytes]]] = {
            "/v1/chat/completions": self._chat,
            "/v1/completions": self._completion,
        }
        self._script: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models":
                    body = {
                        "object": "list",
                        "data": [{"id": server.model, "object": "model", "owned_by": "vllm"}],
                    }
                    server._send(self, 200, {}, json.dumps(body).encode())
                else:
                    server._send(self, 404, {}, error_body(404, f"no route {self.path}"))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -----------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order of arrival."""
        with self._lock:
            self._script.extend(replies)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.body for r in self.requests if path is None or r.path == path]

    # -- internals -----------------------------------------------------------------------------
    def next_reply(self, request: RecordedRequest) -> Reply:
        """What to answer `request` with: the rule's reply, else the next scripted one, else ok."""
        if self.rule is not None:
            reply = self.rule(request)
            if reply is not None:
                return reply
        with self._lock:
            if self._script:
                return self._script.popleft()
        return Reply()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(
            path=handler.path, headers={k.lower(): v for k, v in handler.headers.items()}, body=body
        )
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
            if self.hold_until_in_flight:
                # Requests are released in batches of k arrivals; counting arrivals rather than
                # the live in-flight number keeps a fast finisher from re-closing the gate.
                k = self.hold_until_in_flight
                batch_end = (len(self.requests) + k - 1) // k * k
                self._lock.wait_for(lambda: len(self.requests) >= batch_end, self.hold_timeout)
        try:
            route = self.routes.get(handler.path.split("?")[0].rstrip("/"))
            if route is None:
                self._send(handler, 404, {}, error_body(404, f"no route {handler.path}"))
                return
            if not isinstance(body, dict):
                self._send(handler, 400, {}, error_body(400, "the body is not a JSON object"))
                return
            status, headers, payload = route(request)
            if status == 0:  # "drop": close without answering
                handler.close_connection = True
                return
            if status == -1:  # "hang": never answer
                self._stopping.wait()
                handler.close_connection = True
                return
            self._send(handler, status, headers, payload)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes
    ) -> None:
        trickle = float(headers.pop(TRICKLE_HEADER, 0) or 0)
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if not trickle:
                handler.wfile.write(payload)
                return
            handler.wfile.flush()
            for i in range(len(payload)):
                if self._stopping.wait(trickle):
                    break
                handler.wfile.write(payload[i : i + 1])
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout passed); nothing to answer.
            handler.close_connection = True

    def scripted_failure(self, reply: Reply) -> tuple[int, dict[str, str], bytes] | None:
        """The response of a reply that fails whatever the route (None: answer normally, after
        sleeping first for a "slow" reply). Status 0 means drop the connection."""
        if reply.kind == "status":
            headers = {}
            if reply.retry_after is not None:
                headers["Retry-After"] = str(reply.retry_after)
            return reply.status, headers, error_body(reply.status, "scripted failure")
        if reply.kind == "drop":
            return 0, {}, b""
        if reply.kind == "malformed":
            body = reply.content if reply.content is not None else "<html>502 Bad Gateway</html>"
            return 200, {"Content-Type": "text/html"}, body.encode("utf-8", "surrogatepass")
        if reply.kind == "non_object":
            return 200, {}, b'["not", "an", "object"]'
        if reply.kind == "slow":
            time.sleep(reply.delay)
        if reply.kind == "hang":
            return -1, {}, b""
        return None

    def _answer(self, request: RecordedRequest, *, chat: bool) -> tuple[int, dict[str, str], bytes]:
        reply = self.next_reply(request)
        failure = self.scripted_failure(reply)
        if failure is not None:
            return failure
        body = request.body
        text = reply.content if reply.content is not None else self.content(body)
        finish_reason = reply.finish_reason
        if reply.kind == "empty":
            text = ""
        elif reply.kind == "truncated":
            text = text[: max(1, len(text) // 2)]
            finish_reason = "length"
        with self._lock:
            self._counter += 1
            number = self._counter
        answer = self._completion_body(body, text, finish_reason, number, chat)
        headers = {TRICKLE_HEADER: str(reply.delay or 1.0)} if reply.kind == "trickle" else {}
        return 200, headers, json.dumps(answer).encode()

    def _completion_body(
        self, body: dict[str, Any], text: str, finish_reason: str, number: int, chat: bool
    ) -> dict[str, Any]:
        prompt_chars = len(json.dumps(body.get("messages") or body.get("prompt") or ""))
        prompt_tokens = max(1, prompt_chars // 4)
        completion_tokens = len(text.split())
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish_reason}
        choice["stop_reason"] = None
        if chat:
            choice["message"] = {
                "role": "assistant",
                "content": text,
                "reasoning_content": None,
                "tool_calls": [],
            }
        else:
            choice["text"] = text
            choice["prompt_logprobs"] = None
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{number:032x}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens": completion_tokens,
                "prompt_tokens_details": None,
            },
            "prompt_logprobs": None,
        }

    def _chat(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        return self._answer(request, chat=True)

    def _completion(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        return self._answer(request, chat=False)


def error_body(status: int, message: str) -> bytes:
    """An error as vLLM writes it: `{"error": {"message", "type", "param", "code"}}`."""
    kind = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}.get(
        status, "InternalServerError" if status >= 500 else "BadRequestError"
    )
    return json.dumps(
        {"error": {"message": message, "type": kind, "param": None, "code": status}}
    ).encode()


def free_port() -> int:
    """A port nothing listens on (bound, then released) for 'server down' tests."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SleepRecorder:
    """Stands in for `time.sleep` in retrying clients: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
