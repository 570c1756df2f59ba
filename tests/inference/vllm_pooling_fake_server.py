"""A stand-in for a vLLM pooling server (`vllm serve <model> --runner pooling`), for tests.

Not itself a test module. `FakeOpenAIServer` with the pooling routes, so it listens, records,
holds and is scripted the same way (`script`, `rule`, `hold_until_in_flight`, `max_in_flight`).
It answers:

- `POST /classify` (and `/v1/classify`): request `{"model", "input": [texts], ...}`; response
  `{"id", "object": "list", "created", "model", "data": [{"index", "label", "probs",
  "num_classes"}], "usage"}`, one entry per input, as vLLM's `ClassificationResponse`;
- `POST /score` (and `/v1/score`): request `{"model", "text_1", "text_2", ...}` (a string or a
  list each; two lists of equal length are scored pairwise, one string against a list is scored
  against each); response `{"id", "object": "list", "created", "model", "data": [{"index",
  "object": "score", "score"}], "usage"}`, as vLLM's `ScoreResponse`;
- `GET /v1/models`.

The numbers: `server.classify_value(text) -> float` and `server.score_value(text_1, text_2) ->
float` (both replaceable); by default they read a number written in the candidate line as
`[score=5.5]`, or give 4.0. Besides the failures every route knows (`Reply` kinds "status",
"slow", "malformed", "non_object", "drop"), a pooling route reads "wrong_count" (one result fewer
than inputs) and "non_number" (a result whose value is a string).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from tests.inference.vllm_fake_server import (
    TRICKLE_HEADER,
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    error_body,
)

__all__ = ["FakePoolingServer", "Reply", "tagged_value"]

_SCORE_TAG = re.compile(r"\[score=(-?[0-9.]+)\]")


def tagged_value(text: str, default: float = 4.0) -> float:
    """The number in the last `[score=x]` tag of `text`, or `default`."""
    found = _SCORE_TAG.findall(text)
    return float(found[-1]) if found else default


class FakePoolingServer(FakeOpenAIServer):
    """Threaded fake vLLM pooling server; use as a context manager. `url` is the server root."""

    def __init__(self, *, model: str = "fake/reward-1b", num_classes: int = 1, **options: Any):
        super().__init__(model=model, **options)
        self.num_classes = num_classes
        self.classify_value = tagged_value
        self.score_value = lambda _first, second: tagged_value(second)
        for path in ("/classify", "/v1/classify"):
            self.routes[path] = lambda request: self._pool(request, self.classify)
        for path in ("/score", "/v1/score"):
            self.routes[path] = lambda request: self._pool(request, self.score)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def _pool(
        self, request: RecordedRequest, route: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> tuple[int, dict[str, str], bytes]:
        reply = self.next_reply(request)
        failure = self.scripted_failure(reply)
        if failure is not None:
            return failure
        try:
            answer = route(request.body)
        except _ClientError as exc:
            return 400, {}, error_body(400, str(exc))
        if reply.kind == "wrong_count":
            answer["data"] = answer["data"][:-1]
        elif reply.kind == "non_number":
            key = "probs" if "probs" in answer["data"][0] else "score"
            answer["data"][0][key] = ["high"] if key == "probs" else "high"
        headers = {TRICKLE_HEADER: str(reply.delay or 1.0)} if reply.kind == "trickle" else {}
        return 200, headers, json.dumps(answer).encode()

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
