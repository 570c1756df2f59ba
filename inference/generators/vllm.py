"""Candidates from a vLLM server (or any server speaking the OpenAI-compatible API).

One HTTP request per sample, all sent at once (up to `max_concurrency`), each with its own opinion
order and its own `seed` in the request body, which vLLM honours per request. Transport problems
are retried by `inference.http.JsonClient`; an answer that parses to no usable statement is
redrawn with a new seed up to `bad_output_retries` times, and the redraw count is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from inference.base import BadModelOutput, Candidate, ConfigError, RoundText
from inference.config import BackendConfig
from inference.generators.llm import Options, SamplePlan, plan_samples, sample_candidate
from inference.http import JsonClient, run_concurrently
from inference.prompts import CRITIQUE_TEMPLATE_VERSION, OPINION_TEMPLATE_VERSION

logger = logging.getLogger(__name__)

ENDPOINTS = {"chat": "chat/completions", "completions": "completions"}


class VLLMGenerator:
    """Samples candidates from `url` (the server's `/v1` base, e.g. `http://gpu:8000/v1`)."""

    def __init__(
        self,
        *,
        url: str,
        model: str | None = None,
        revision: str | None = None,
        endpoint: str = "chat",
        temperature: float = 1.0,
        top_p: float | None = None,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
        opinion_template: str = OPINION_TEMPLATE_VERSION,
        critique_template: str = CRITIQUE_TEMPLATE_VERSION,
        parse_mode: str = "tagged",
        bad_output_retries: int = 1,
        max_concurrency: int = 16,
        timeout: float = 120.0,
        retries: int = 3,
        api_key: str | None = None,
        client: JsonClient | None = None,
        **client_options: Any,
    ):
        if endpoint not in ENDPOINTS:
            raise ConfigError(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        self.url = normalise_url(url)
        self.model = model
        self.revision = revision
        self.endpoint = endpoint
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.stop = list(stop) if stop else None
        self.opinion_template = opinion_template
        self.critique_template = critique_template
        self.parse_mode = parse_mode
        self.bad_output_retries = bad_output_retries
        self.max_concurrency = max_concurrency
        self.client = client or JsonClient(
            self.url,
            api_key=api_key,
            timeout=timeout,
            retries=retries,
            max_connections=max(max_concurrency, 1),
            **client_options,
        )

    def close(self) -> None:
        self.client.close()

    def describe(self) -> dict[str, Any]:
        return {
            "role": "generator",
            "backend": "vllm",
            "model": self.model,
            "revision": self.revision,
            "url": self.url,
            "endpoint": self.endpoint,
            "templates": [self.opinion_template, self.critique_template],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def generate(self, round_text: RoundText, *, n: int, seed: int) -> list[Candidate]:
        plans = plan_samples(
            round_text,
            n=n,
            seed=seed,
            opinion_template=self.opinion_template,
            critique_template=self.critique_template,
        )
        return run_concurrently(
            lambda plan: self._sample(plan, seed),
            plans,
            max_concurrency=self.max_concurrency,
        )

    def request_body(self, plan: SamplePlan, sample_seed: int) -> dict[str, Any]:
        """The JSON body of one sample's request."""
        body: dict[str, Any] = {}
        if self.model:
            body["model"] = self.model
        if self.endpoint == "chat":
            body["messages"] = plan.prompt.messages()
        else:
            body["prompt"] = plan.prompt.text()
        body.update(
            {
                "n": 1,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "seed": sample_seed,
            }
        )
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.stop:
            body["stop"] = self.stop
        return body

    def _sample(self, plan: SamplePlan, round_seed: int) -> Candidate:
        last_error: BadModelOutput | None = None
        for attempt in range(self.bad_output_retries + 1):
            sample_seed = plan.seed(round_seed, attempt)
            answer = self.client.post_json(
                ENDPOINTS[self.endpoint], self.request_body(plan, sample_seed)
            )
            raw, finish_reason = self._completion_text(answer)
            try:
                return sample_candidate(
                    plan=plan,
                    raw=raw,
                    finish_reason=finish_reason,
                    parse_mode=self.parse_mode,
                    backend="vllm",
                    model=self.model or answer.get("model"),
                    round_seed=round_seed,
                    seed=sample_seed,
                    attempts=attempt + 1,
                    revision=self.revision,
                    endpoint=self.endpoint,
                    temperature=self.temperature,
                    max_tokens=self.max_tokens,
                    response_id=answer.get("id"),
                    usage=answer.get("usage"),
                )
            except BadModelOutput as exc:
                last_error = exc
                logger.warning(
                    "vllm sample %d (seed %d) unusable: %s", plan.sample_index, sample_seed, exc
                )
        assert last_error is not None
        raise BadModelOutput(
            f"sample {plan.sample_index} gave no usable statement in "
            f"{self.bad_output_retries + 1} draw(s); last: {last_error}",
            raw=last_error.raw,
        ) from last_error

    def _completion_text(self, answer: dict[str, Any]) -> tuple[Any, str | None]:
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BadModelOutput("the server's answer has no choices", raw=answer)
        choice = choices[0]
        if self.endpoint == "chat":
            message = choice.get("message")
            if not isinstance(message, dict):
                raise BadModelOutput("the server's choice has no message", raw=answer)
            raw = message.get("content")
        else:
            raw = choice.get("text")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise BadModelOutput("the server's completion is not text", raw=answer)
        finish_reason = choice.get("finish_reason")
        return raw, finish_reason if isinstance(finish_reason, str) else None


def normalise_url(url: str) -> str:
    """The server's API base: `http://host:8000` and `.../v1/chat/completions` become `.../v1`."""
    if not url or not str(url).strip():
        raise ConfigError(
            "the vllm generator needs a url (GENERATOR_URL), e.g. http://host:8000/v1"
        )
    url = str(url).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"the vllm generator url must be http(s)://host[:port][/v1], not {url!r}")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    if not urlsplit(url).path:
        url += "/v1"
    return url


def from_config(config: BackendConfig) -> VLLMGenerator:
    url = normalise_url(config.url)  # a missing or unusable url first, before any option
    options = Options(config.options, "vllm generator")
    opinion_template, critique_template = options.templates()
    kwargs: dict[str, Any] = {
        "url": url,
        "model": config.model,
        "revision": options.text("revision", None),
        "endpoint": options.text("endpoint", "chat", choices=ENDPOINTS),
        "temperature": options.number("temperature", 1.0, low=0.0, high=5.0),
        "top_p": options.number("top_p", None, low=0.0, high=1.0),
        "max_tokens": options.whole("max_tokens", 512, low=1),
        "stop": options.words("stop"),
        "opinion_template": opinion_template,
        "critique_template": critique_template,
        "parse_mode": options.parse_mode(),
        "bad_output_retries": options.whole("bad_output_retries", 1, low=0),
        "max_concurrency": options.whole("max_concurrency", 16, low=1),
        "timeout": options.number("timeout", 120.0, low=0.001),
        "retries": options.whole("retries", 3, low=0),
        "api_key": options.text("api_key", None),
        "backoff_base": options.number("backoff_base", 0.5, low=0.0),
        "backoff_max": options.number("backoff_max", 8.0, low=0.0),
        "connect_timeout": options.number("connect_timeout", None, low=0.001),
    }
    options.finish()
    return VLLMGenerator(**kwargs)
