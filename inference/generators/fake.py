"""A generator for tests and demos: deterministic candidates built from the opinions.

No model, no network. Sample `i` shows the opinions in an order shuffled from `(seed, i)` and
joins the first sentence of the first `1 + i % len(opinions)` of them, so candidates differ from
one another and each draws on a known subset of the group. It records every call it gets in
`calls` (`{"round_text", "n", "seed"}`), and can be told to fail the way a real backend fails.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from inference.base import Candidate, InferenceError, RoundText
from inference.config import BackendConfig
from inference.fakes import check_fail, raise_failure

TEMPLATE_VERSION = "fake-1"
NAME = "fake generator"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class FakeGenerator:
    """Deterministic candidates; `fail` is `None`, `"unavailable"`, `"bad_output"` or an
    `InferenceError` to raise from every `generate` call."""

    def __init__(
        self,
        *,
        model: str = "fake-generator",
        fail: str | InferenceError | None = None,
    ):
        check_fail(fail, name=NAME)
        self.model = model
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def generate(self, round_text: RoundText, *, n: int, seed: int) -> list[Candidate]:
        self.calls.append({"round_text": round_text, "n": n, "seed": seed})
        raise_failure(self.fail, name=NAME, raw="")
        return [self._sample(round_text, seed, i) for i in range(n)]

    def _sample(self, round_text: RoundText, seed: int, index: int) -> Candidate:
        opinions = round_text.opinions
        rng = np.random.default_rng([int(seed) & 0xFFFF_FFFF_FFFF_FFFF, index])
        order = [int(k) for k in rng.permutation(len(opinions))]
        used = order[: 1 + index % len(opinions)]
        parts = [_first_sentence(opinions[k]) for k in used]
        if round_text.is_critique:
            parts.insert(0, _first_sentence(str(round_text.previous_winner)))
        text = " ".join(parts)
        return Candidate(
            text=text,
            provenance={
                "backend": "fake",
                "model": self.model,
                "template_version": TEMPLATE_VERSION,
                "seed": seed,
                "sample_index": index,
                "opinion_order": order,
                "method": "first sentences",
                "critique_round": round_text.is_critique,
            },
        )

    def describe(self) -> dict[str, Any]:
        return {"role": "generator", "backend": "fake", "model": self.model, "revision": "fake"}


def _first_sentence(text: str) -> str:
    sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    return sentence if sentence[-1] in ".!?" else sentence + "."


def from_config(config: BackendConfig) -> FakeGenerator:
    """Option `fail` (`"unavailable"` or `"bad_output"`); other options are ignored."""
    return FakeGenerator(model=config.model or "fake-generator", fail=config.options.get("fail"))
