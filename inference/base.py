"""The small interfaces every inference backend implements.

Nothing here imports Django, torch or transformers: a script or a notebook can use the whole
package with numpy alone, and heavy libraries are imported only by the backends that need them,
when the caller builds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class RoundText:
    """The text of one round as every backend reads it, checked once, when it is made.

    - `question`, and the members' `opinions` (none of them blank), in member order.
    - In a critique iteration, `previous_winner`, the statement being revised, and `critiques`,
      one critique of it per opinion, in the same order (a critique may be blank). The round is
      a critique iteration exactly when `critiques` is not None.
    - `affirming_statement` and `negating_statement`: the question's position statements, when
      it has them (blank ones are taken as absent).
    - `position_ratings`: each member's agreement with the affirming statement before the
      round, on 1-7, None where not asked or not given; same order as `opinions`.

    Backends that do not read the positions (everything but the extractive generator and the
    embedding reward model) ignore them. Sequences are stored as tuples, ratings as floats.
    Raises `ValueError`, saying what is wrong, for inputs no backend can work with; a backend
    given a `RoundText` trusts it and checks nothing again.
    """

    question: str
    opinions: tuple[str, ...]
    previous_winner: str | None = None
    critiques: tuple[str, ...] | None = None
    affirming_statement: str | None = None
    negating_statement: str | None = None
    position_ratings: tuple[float | None, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise ValueError("the question is empty")
        self._set("opinions", _texts(self.opinions, "opinions", blank=False))
        if not self.opinions:
            raise ValueError("there are no opinions")
        if self.previous_winner is not None and not isinstance(self.previous_winner, str):
            raise ValueError("the previous winner must be a string")
        if self.critiques is not None:
            if self.previous_winner is None or not self.previous_winner.strip():
                raise ValueError("critiques were given without the previous winner they critique")
            self._set("critiques", _texts(self.critiques, "critiques", blank=True))
            if len(self.critiques) != len(self.opinions):
                raise ValueError(
                    f"there are {len(self.critiques)} critiques for {len(self.opinions)} "
                    "opinions; give one critique per opinion"
                )
        for name in ("affirming_statement", "negating_statement"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ValueError(f"the {name.replace('_', ' ')} must be a string")
            if not value.strip():
                self._set(name, None)
        if self.position_ratings is not None:
            self._set("position_ratings", _ratings(self.position_ratings, len(self.opinions)))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @property
    def is_critique(self) -> bool:
        """Whether this is a critique iteration (the previous winner is being revised)."""
        return self.critiques is not None

    def critique(self, member: int) -> str | None:
        """Member `member`'s critique in a critique iteration, else None."""
        return None if self.critiques is None else self.critiques[member]

    def members(self, indices: Sequence[int]) -> RoundText:
        """The same round with only the members `indices` (opinions, critiques and ratings), in
        that order: what a generator sees when the statement is written from some members."""
        return replace(
            self,
            opinions=tuple(self.opinions[i] for i in indices),
            critiques=None if self.critiques is None else tuple(self.critiques[i] for i in indices),
            position_ratings=None
            if self.position_ratings is None
            else tuple(self.position_ratings[i] for i in indices),
        )


def _texts(values: Any, name: str, *, blank: bool) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"the {name} must be a list of strings")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError(f"{name[:-1]} {i} is {type(value).__name__}, not a string")
        if not blank and not value.strip():
            raise ValueError(f"{name[:-1]} {i} is empty")
    return tuple(values)


def _ratings(values: Any, members: int) -> tuple[float | None, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError("the position ratings must be a list of numbers (None where unknown)")
    if len(values) != members:
        raise ValueError(f"there are {len(values)} position ratings for {members} members")
    checked: list[float | None] = []
    for value in values:
        if value is None:
            checked.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"a position rating is {value!r}, not a number")
        if not LIKERT_MIN <= float(value) <= LIKERT_MAX:
            raise ValueError(f"a position rating is {value}, outside 1-7")
        checked.append(float(value))
    return tuple(checked)


@runtime_checkable
class Generator(Protocol):
    """Samples candidate group statements.

    `round_text` holds the opinions of the members the statement is written from (in an
    exclusion condition, only the included ones) and, in a critique iteration, the previous
    winner being revised and those members' critiques of it. Returns exactly `n` candidates
    (`n >= 1`), sample `i` seeded from `seed` and `i`. The caller checked the round when it made
    the `RoundText` and checks `n`; a backend checks neither again.
    """

    def generate(self, round_text: RoundText, *, n: int, seed: int) -> list[Candidate]: ...

    def describe(self) -> dict[str, Any]:
        """`{"role": "generator", "backend", "model", "revision", ...}` for the record."""
        ...


@runtime_checkable
class RewardModel(Protocol):
    """Predicts each member's agreement with each candidate.

    Member `i` of `round_text` is described by `opinions[i]` and, in a critique iteration,
    `critiques[i]` (the critique of `previous_winner`). `candidates` holds at least one
    statement, none of them blank (the caller's to ensure: `mediate` refuses a generator's empty
    candidate before predicting). Returns a float array of shape
    `[len(opinions), len(candidates)]` with every value in [1, 7] (the agreement Likert scale).
    """

    def predict(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]:
        """`{"role": "reward", "backend", "model", "revision", ...}` for the record."""
        ...


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
