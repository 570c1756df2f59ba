"""A stand-in for a vLLM pooling server (`vllm serve <model> --runner pooling`), for tests.

Not itself a test module. It listens on 127.0.0.1 on an ephemeral port, in a thread, and answers:

- `POST /classify` (and `/v1/classify`): request `{"model", "input": [texts], ...}`; response
  `{"id", "object": "list", "created", "model", "data": [{"index", "label", "probs",
  "num_classes"}], "usage"}`, one entry per input, as vLLM's `ClassificationResponse`;
- `POST /score` (and `/v1/score`): request `{"model", "text_1", "text_2", ...}` (a string or a
  list each; two lists of equal length are scored pairwise, one string against a list is scored
  against each); response `{"id", "object": "list", "created", "model", "data": [{"index",
  "object": "score", "score"}], "usage"}`, as vLLM's `ScoreResponse`;
- `GET /v1/models`.

Errors come back as vLLM writes them: `{"error": {"message", "type", "param", "code"}}`.

The numbers: `server.classify_value(text) -> float` and `server.score_value(text_1, text_2) ->
float` (both replaceable); by default they read a number written in the candidate line as
`[score=5.5]`, or give 4.0. Queue `Reply`s with `server.script(...)` to misbehave, one reply per
request in order of arrival. Every request is recorded in `server.requests`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SCORE_TAG = re.compile(r"\[score=(-?[0-9.]+)\]")


@dataclass
class Reply:
    """How to answer one request.

    `kind`: "ok"; "status" (HTTP `status` with an error body, `Retry-After: retry_after` when
    given); "slow" (sleep `delay` seconds, then answer ok); "malformed" (HTTP 200, not JSON);
    "wrong_count" (one result fewer than inputs); "non_number" (a result whose value is a
    string); "drop" (close the connection without answering).
    """

    kind: str = "ok"
    status: int = 200
    delay: float = 0.0
    retry_after: float | None = None


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)


def tagged_value(text: str, default: float = 4.0) -> float:
    """The number in the last `[score=x]` tag of `text`, or `default`."""
    found = _SCORE_TAG.findall(text)
    return float(found[-1]) if found else default


class FakePoolingServer:
    """Threaded fake vLLM pooling server; use as a context manager. `url` is the server root."""

    def __init__(self, *, model: str = "fake/reward-1b", num_classes: int = 1):
        self.model = model
        self.num_classes = num_classes
        self.requests: list[RecordedRequest] = []
        self.classify_value: Callable[[str], float] = tagged_value
        self.score_value: Callable[[str, str], float] = lambda _first, second: tagged_value(second)
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self, path_suffix: str = "") -> list[Any]:
        return [r.body for r in self.requests if r.path.endswith(path_suffix)]

    def __enter__(self) -> FakePoolingServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- answers -------------------------------------------------------------------------------

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    def _record(self, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(path=path, headers=headers, body=body))

    def classify(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise _ClientError("input must be a string or a non-empty list of strings")
        data = []
        for i, text in enumerate(inputs):
            value = float(self.classify_value(text))
            probs = [value] if self.num_classes == 1 else [1.0 - value, value]
            data.append({"index": i, "label": "LABEL_0", "probs": probs, "num_classes": len(probs)})
        return self._envelope("classify", data, sum(len(t.split()) for t in inputs))

    def score(self, body: dict[str, Any]) -> dict[str, Any]:
        first, second = body.get("text_1"), body.get("text_2")
        if first is None or second is None:
            raise _ClientError("text_1 and text_2 are required")
        firsts = first if isinstance(first, list) else [first]
        seconds = second if isinstance(second, list) else [second]
        if len(firsts) == 1 and len(seconds) > 1:
            firsts = firsts * len(seconds)
        if len(firsts) != len(seconds):
            raise _ClientError("text_1 and text_2 must have the same number of items")
        data = [
            {"index": i, "object": "score", "score": float(self.score_value(a, b))}
            for i, (a, b) in enumerate(zip(firsts, seconds, strict=True))
        ]
        tokens = sum(len(a.split()) + len(b.split()) for a, b in zip(firsts, seconds, strict=True))
        return self._envelope("score", data, tokens)

    def _envelope(self, kind: str, data: list[dict[str, Any]], tokens: int) -> dict[str, Any]:
        return {
            "id": f"{kind}-fake{len(self.requests)}",
            "object": "list",
            "created": int(time.time()),
            "model": self.model,
            "data": data,
            "usage": {
                "prompt_tokens": tokens,
                "total_tokens": tokens,
                "completion_tokens": 0,
                "prompt_tokens_details": None,
            },
        }


class _ClientError(Exception):
    pass


def _error_body(message: str, status: int) -> dict[str, Any]:
    kind = "BadRequestError" if status < 500 else "InternalServerError"
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakePoolingServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/v1/models":
            self._send(
                200, {"object": "list", "data": [{"id": self.fake.model, "object": "model"}]}
            )
        else:
            self._send(404, _error_body(f"no route {self.path}", 404))

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.fake._record(self.path, dict(self.headers), body)
        routes = {
            "/classify": self.fake.classify,
            "/v1/classify": self.fake.classify,
            "/score": self.fake.score,
            "/v1/score": self.fake.score,
        }
        route = routes.get(self.path)
        if route is None:
            self._send(404, _error_body(f"no route {self.path}", 404))
            return
        reply = self.fake._next_reply()
        if reply.kind == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if reply.kind == "status":
            headers = {}
            if reply.retry_after is not None:
                headers["Retry-After"] = f"{reply.retry_after:g}"
            self._send(reply.status, _error_body("scripted failure", reply.status), headers)
            return
        if reply.kind == "malformed":
            self._send_raw(200, b'{"data": [{"index": 0, "probs": [0.5')
            return
        if reply.kind == "slow":
            time.sleep(reply.delay)
        if not isinstance(body, dict):
            self._send(400, _error_body("the body must be a JSON object", 400))
            return
        try:
            answer = route(body)
        except _ClientError as exc:
            self._send(400, _error_body(str(exc), 400))
            return
        if reply.kind == "wrong_count":
            answer["data"] = answer["data"][:-1]
        elif reply.kind == "non_number":
            key = "probs" if "probs" in answer["data"][0] else "score"
            answer["data"][0][key] = ["high"] if key == "probs" else "high"
        self._send(200, answer)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers)

    def _send_raw(self, status: int, raw: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout ran out while a "slow" reply slept).
            pass
