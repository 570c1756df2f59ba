"""The small interfaces every inference backend implements.

Nothing here imports Django, torch or transformers: a script or a notebook can use the whole
package with numpy alone, and heavy libraries are imported only by the backends that need them,
when the caller builds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

LIKERT_MIN = 1.0
LIKERT_MAX = 7.0


class InferenceError(Exception):
    """Base class of every error an inference backend raises on purpose."""


class ConfigError(InferenceError, ValueError):
    """A backend or mediation config that cannot be used (unknown backend, missing URL, ...)."""


class BackendUnavailable(InferenceError):
    """The model server did not answer usefully: refused, timed out, or kept failing after retries."""


class BadModelOutput(InferenceError):
    """The model answered, but with something unusable: empty, truncated, garbage, wrong shape.

    `raw` keeps what the model actually returned, so that it can be stored for the record.
    """

    def __init__(self, message: str, *, raw: Any = None):
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True)
class Candidate:
    """One candidate group statement and where it came from.

    `provenance` always holds at least: `backend`, `model`, `template_version`, `seed`,
    `sample_index`, `opinion_order` (the order, as indices into the opinions passed in, in which
    the opinions were shown to the model). Backends may add more (`raw`, `finish_reason`,
    `method` for the extractive generator, ...). It must be JSON-serialisable.
    """

    text: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "provenance": dict(self.provenance)}


@runtime_checkable
class Generator(Protocol):
    """Samples candidate group statements.

    `opinions` are the opinions of the members the statement is written from (in an exclusion
    condition, only the included ones). In a critique iteration `previous_winner` is the statement
    being revised and `critiques` the members' critiques of it (same order and length as
    `opinions`). Returns exactly `n` candidates, sample `i` seeded from `seed` and `i`.
    """

    def generate(
        self,
        *,
        question: str,
        opinions: Sequence[str],
        n: int,
        seed: int,
        previous_winner: str | None = None,
        critiques: Sequence[str] | None = None,
    ) -> list[Candidate]: ...

    def describe(self) -> dict[str, Any]:
        """`{"role": "generator", "backend", "model", "revision", ...}` for the record."""
        ...


@runtime_checkable
class RewardModel(Protocol):
    """Predicts each member's agreement with each candidate.

    Member `i` is described by `opinions[i]` and, in a critique iteration, `critiques[i]` (the
    critique of `previous_winner`). Returns a float array of shape
    `[len(opinions), len(candidates)]` with every value in [1, 7] (the agreement Likert scale).
    """

    def predict(
        self,
        *,
        question: str,
        opinions: Sequence[str],
        candidates: Sequence[str],
        previous_winner: str | None = None,
        critiques: Sequence[str] | None = None,
    ) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]:
        """`{"role": "reward", "backend", "model", "revision", ...}` for the record."""
        ...


@dataclass(frozen=True)
class RoundText:
    """The text of one round as every backend reads it, checked once, when it is made.

    `question`, and the members' `opinions` (none of them blank); in a critique iteration, the
    `previous_winner` being revised and one critique of it per opinion, in the same order.
    Sequences are stored as tuples. Raises `ValueError` for inputs no backend can work with.
    """

    question: str
    opinions: tuple[str, ...]
    previous_winner: str | None = None
    critiques: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise ValueError("the question is empty")
        if isinstance(self.opinions, str) or not self.opinions:
            raise ValueError("there are no opinions")
        object.__setattr__(self, "opinions", tuple(self.opinions))
        for i, opinion in enumerate(self.opinions):
            if not isinstance(opinion, str) or not opinion.strip():
                raise ValueError(f"opinion {i} is empty")
        if self.critiques is not None:
            if self.previous_winner is None or not str(self.previous_winner).strip():
                raise ValueError("critiques were given without the previous winner they critique")
            object.__setattr__(self, "critiques", tuple(self.critiques))
            if len(self.critiques) != len(self.opinions):
                raise ValueError(
                    f"there are {len(self.critiques)} critiques for {len(self.opinions)} "
                    "opinions; give one critique per opinion"
                )

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `Generator.generate` and `RewardModel.predict` it stands for."""
        return {
            "question": self.question,
            "opinions": list(self.opinions),
            "previous_winner": self.previous_winner,
            "critiques": None if self.critiques is None else list(self.critiques),
        }


def check_round_inputs(
    *,
    question: str,
    opinions: Sequence[str],
    previous_winner: str | None = None,
    critiques: Sequence[str] | None = None,
) -> RoundText:
    """The round's text as a `RoundText`; `ValueError` for inputs no backend can work with."""
    return RoundText(
        question=question, opinions=opinions, previous_winner=previous_winner, critiques=critiques
    )


def check_generate_inputs(
    *,
    question: str,
    opinions: Sequence[str],
    n: int,
    previous_winner: str | None = None,
    critiques: Sequence[str] | None = None,
) -> None:
    """`check_round_inputs`, plus `n`, the number of samples, a whole number >= 1."""
    check_round_inputs(
        question=question, opinions=opinions, previous_winner=previous_winner, critiques=critiques
    )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, not {n!r}")


def check_reward_inputs(
    *,
    question: str,
    opinions: Sequence[str],
    candidates: Sequence[str],
    previous_winner: str | None = None,
    critiques: Sequence[str] | None = None,
) -> None:
    """`check_round_inputs`, plus at least one candidate, none of them empty."""
    check_round_inputs(
        question=question, opinions=opinions, previous_winner=previous_winner, critiques=critiques
    )
    if isinstance(candidates, str) or not candidates:
        raise ValueError("there are no candidates")
    for i, candidate in enumerate(candidates):
        if not isinstance(candidate, str) or not candidate.strip():
            raise ValueError(f"candidate {i} is empty")


def check_predictions(matrix: Any, *, members: int, candidates: int) -> np.ndarray:
    """Validate a reward model's output and return it as a float array.

    Raises `BadModelOutput` when the shape is wrong, a value is not finite, or a value lies
    outside [1, 7].
    """
    try:
        array = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BadModelOutput(f"predictions are not numbers: {exc}", raw=matrix) from exc
    if array.shape != (members, candidates):
        raise BadModelOutput(
            f"predictions have shape {array.shape}, expected ({members}, {candidates})", raw=matrix
        )
    if not np.all(np.isfinite(array)):
        raise BadModelOutput("predictions contain NaN or infinity", raw=matrix)
    if array.size and (array.min() < LIKERT_MIN or array.max() > LIKERT_MAX):
        raise BadModelOutput("predictions fall outside the 1-7 scale", raw=matrix)
    return array
