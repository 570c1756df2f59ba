"""Reward model served by vLLM in pooling mode (`vllm serve <model> --runner pooling`).

Every (member, candidate) pair of a round is written out with `formatting` (template
`commonground-v1`) and sent in one request, or a few concurrent ones of at most `batch_size`
pairs, to one of vLLM's pooling endpoints:

- `classify` (default): `POST /classify` with `{"model", "input": [text, ...]}`; vLLM answers
  `{"data": [{"index", "label", "probs", "num_classes"}, ...]}`. The model has one output
  (`num_labels = 1`), so `probs` holds one number. With two outputs and `output="probability"`,
  `probs[1]` (the "agree" class) is used.
- `score`: `POST /score` with `{"model", "text_1": [context, ...], "text_2": [candidate, ...]}`
  (two lists of equal length are scored pair by pair); vLLM answers
  `{"data": [{"index", "object": "score", "score"}, ...]}`. For cross-encoders.

The number becomes agreement by the rule in option `output` (see `formatting.OUTPUT_RULES`):
`likert` (the model regresses 1-7 itself; clipped), `probability` (`1 + 6 p`), `logit`
(`1 + 6 sigmoid(x)`). vLLM applies the model's activation (a sigmoid for one output) unless told
not to, so for `likert` and `logit` the request carries `"use_activation": false` and the server
returns the raw output; for `probability` the server's activation is kept.

`url` is the server root, e.g. `http://reward:8000` (a trailing `/v1` is accepted and dropped:
`/classify` lives at the root). Timeouts and retries (connection errors, 408, 429, 5xx, with
exponential backoff and jitter) come from `inference.http`. A wrong number of results, a
repeated or missing index, or a value that is not a number raises `BadModelOutput`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from inference.base import BadModelOutput, ConfigError, RoundText, check_predictions
from inference.config import BackendConfig
from inference.reward_models import formatting

logger = logging.getLogger(__name__)

ENDPOINTS = ("classify", "score")
DEFAULT_BATCH_SIZE = 128
_OWN_OPTIONS = {
    "endpoint",
    "output",
    "timeout",
    "retries",
    "batch_size",
    "max_concurrency",
    "api_key",
    "template_version",
    "revision",
}
# Options meant for other backends that a shared config may still carry.
_IGNORED_OPTIONS = {"temperature", "max_tokens", "device", "head_path"}


class VLLMRewardModel:
    """Predicted agreement from a vLLM pooling server. `client` is an `inference.http.JsonClient`
    whose base URL is the server root."""

    def __init__(
        self,
        *,
        client: Any,
        model: str | None = None,
        endpoint: str = "classify",
        output: str = "likert",
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_concurrency: int = 4,
        template_version: str = formatting.TEMPLATE_VERSION,
        revision: str | None = None,
    ):
        if endpoint not in ENDPOINTS:
            raise ConfigError(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        try:
            formatting.check_output_rule(output)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if template_version not in formatting.TEMPLATES:
            raise ConfigError(f"unknown reward input template {template_version!r}")
        if batch_size < 1 or max_concurrency < 1:
            raise ConfigError("batch_size and max_concurrency must be at least 1")
        self.client = client
        self.model = model
        self.endpoint = endpoint
        self.output = output
        self.batch_size = int(batch_size)
        self.max_concurrency = int(max_concurrency)
        self.template_version = template_version
        self.revision = revision

    def predict(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray:
        members = len(round_text.opinions)
        texts, second_texts = formatting.round_texts(
            round_text, candidates, pairs=self.endpoint == "score"
        )
        chunks = _chunks(len(texts), self.batch_size)
        requests = [
            (
                self.endpoint,
                self._payload(texts[a:b], None if second_texts is None else second_texts[a:b]),
            )
            for a, b in chunks
        ]
        answers = self.client.post_many(requests, max_concurrency=self.max_concurrency)
        values: list[float] = []
        for (start, stop), answer in zip(chunks, answers, strict=True):
            values.extend(self._values(answer, stop - start))
        matrix = formatting.to_likert(values, self.output).reshape(members, len(candidates))
        return check_predictions(matrix, members=members, candidates=len(candidates))

    def describe(self) -> dict[str, Any]:
        return {
            "role": "reward",
            "backend": "vllm",
            "model": self.model or "(served model)",
            "revision": self.revision or "unknown",
            "endpoint": self.endpoint,
            "output": self.output,
            "template_version": self.template_version,
        }

    # -- requests and answers ------------------------------------------------------------------

    def _payload(self, texts: list[str], second_texts: list[str] | None) -> dict[str, Any]:
        """`/classify` reads `input`; `/score` reads the pairs as `text_1` and `text_2`."""
        payload: dict[str, Any] = (
            {"input": texts} if second_texts is None else {"text_1": texts, "text_2": second_texts}
        )
        # The raw output for rules that expect one; the model's own activation for probability.
        if self.output != "probability":
            payload["use_activation"] = False
        if self.model:
            payload["model"] = self.model
        return payload

    def _values(self, answer: Mapping[str, Any], expected: int) -> list[float]:
        data = answer.get("data")
        if not isinstance(data, list):
            raise BadModelOutput(f"the {self.endpoint} answer has no 'data' list", raw=answer)
        if len(data) != expected:
            raise BadModelOutput(
                f"the {self.endpoint} answer has {len(data)} results for {expected} inputs",
                raw=answer,
            )
        by_index: dict[int, float] = {}
        for position, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise BadModelOutput(f"result {position} is not an object", raw=answer)
            index = item.get("index", position)
            if not isinstance(index, int) or isinstance(index, bool) or index in by_index:
                raise BadModelOutput(f"result {position} has a bad or repeated index", raw=answer)
            by_index[index] = self._value(item, position, answer)
        if sorted(by_index) != list(range(expected)):
            raise BadModelOutput("the result indexes do not cover the inputs", raw=answer)
        return [by_index[i] for i in range(expected)]

    def _value(self, item: Mapping[str, Any], position: int, answer: Any) -> float:
        if self.endpoint == "score":
            value = item.get("score")
        else:
            probs = item.get("probs")
            if not isinstance(probs, list) or not probs:
                raise BadModelOutput(f"result {position} has no 'probs' list", raw=answer)
            if len(probs) == 1:
                value = probs[0]
            elif len(probs) == 2 and self.output == "probability":
                value = probs[1]
            else:
                raise BadModelOutput(
                    f"result {position} has {len(probs)} outputs; a reward model has one "
                    "(or two, agree last, with output='probability')",
                    raw=answer,
                )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadModelOutput(f"result {position} is not a number: {value!r}", raw=answer)
        return float(value)


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def server_root(url: str) -> str:
    """The server root of `url`: `/classify` and `/score` live there, not under `/v1`."""
    root = url.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return root


def from_config(config: BackendConfig) -> VLLMRewardModel:
    """Options: `endpoint` ("classify" | "score"), `output` ("likert" | "probability" |
    "logit"), `timeout` (30 s in all per request, retries included), `retries` (3), `batch_size` (128 pairs per request),
    `max_concurrency` (4), `api_key`, `template_version`, `revision` (for the record)."""
    if not config.url:
        raise ConfigError("the vllm reward backend needs the pooling server's url")
    options = config.checked_options("vllm reward", reads=_OWN_OPTIONS, ignores=_IGNORED_OPTIONS)
    from inference.http import JsonClient

    try:
        client = JsonClient(
            server_root(config.url),
            api_key=options.get("api_key"),
            timeout=float(options.get("timeout", 30.0)),
            retries=int(options.get("retries", 3)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad vllm reward option: {exc}") from exc
    return VLLMRewardModel(
        client=client,
        model=config.model,
        endpoint=str(options.get("endpoint", "classify")),
        output=str(options.get("output", "likert")),
        batch_size=int(options.get("batch_size", DEFAULT_BATCH_SIZE)),
        max_concurrency=int(options.get("max_concurrency", 4)),
        template_version=str(options.get("template_version", formatting.TEMPLATE_VERSION)),
        revision=options.get("revision"),
    )
