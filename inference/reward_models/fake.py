"""A reward model for tests and demos: word overlap, or a fixed matrix.

No model. By default member `i`'s predicted agreement with a candidate is
`1 + 6 * |words(opinion_i [+ critique_i]) & words(candidate)| / |words(opinion_i [+ critique_i])|`
(lower-cased words of three letters or more), so it lies in [1, 7] and a candidate that repeats
someone's words pleases them. Given `matrix`, it returns that matrix whatever it is asked,
which lets a test fix the predictions, or hand back a wrongly shaped one on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from inference.base import LIKERT_MAX, LIKERT_MIN, BadModelOutput, InferenceError, RoundText
from inference.config import BackendConfig
from inference.fakes import check_fail, raise_failure

NAME = "fake reward model"

_WORD = re.compile(r"[a-z]{3,}")


class FakeRewardModel:
    """Deterministic predictions in [1, 7]; see the module docstring.

    `fail` is `None`, `"unavailable"`, `"bad_output"` or an `InferenceError` to raise from every
    `predict` call. Every call is recorded in `calls` (`{"round_text", "candidates"}`).
    """

    def __init__(
        self,
        *,
        matrix: Any = None,
        model: str = "fake-reward",
        fail: str | InferenceError | None = None,
    ):
        check_fail(fail, name=NAME)
        self.matrix = matrix
        self.model = model
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def predict(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray:
        self.calls.append({"round_text": round_text, "candidates": list(candidates)})
        raise_failure(self.fail, name=NAME)
        if self.matrix is not None:
            try:
                return np.array(self.matrix, dtype=float)
            except (TypeError, ValueError) as exc:
                raise BadModelOutput(f"the fixed matrix is not numbers: {exc}") from exc
        opinions, critiques = round_text.opinions, round_text.critiques
        members = [
            opinion if critiques is None else f"{opinion} {critiques[i]}"
            for i, opinion in enumerate(opinions)
        ]
        member_words = [_words(text) for text in members]
        candidate_words = [_words(text) for text in candidates]
        overlap = np.array(
            [
                [len(own & words) / len(own) if own else 0.0 for words in candidate_words]
                for own in member_words
            ],
            dtype=float,
        ).reshape(len(opinions), len(candidates))
        return LIKERT_MIN + (LIKERT_MAX - LIKERT_MIN) * overlap

    def describe(self) -> dict[str, Any]:
        return {"role": "reward", "backend": "fake", "model": self.model, "revision": "fake"}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def from_config(config: BackendConfig) -> FakeRewardModel:
    """Options: `matrix` (a list of rows to return), `fail` (`"unavailable"` or
    `"bad_output"`); other options are ignored."""
    return FakeRewardModel(
        matrix=config.options.get("matrix"),
        model=config.model or "fake-reward",
        fail=config.options.get("fail"),
    )
