"""The fitted part of the embedding reward model: its features, the documented prior, and the
ridge head fitted on collected ratings (saved as JSON). See `inference.reward_models.embedding`
for what each feature means and why the prior is what it is. numpy only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.base import LIKERT_MAX, LIKERT_MIN, ConfigError

MODEL_NAME = "all-MiniLM-L6-v2"

FEATURES = (
    "sim_own",
    "sim_others",
    "sim_group",
    "sim_question",
    "sim_previous",
    "sim_critique",
    "critique_gain",
    "critique_round",
    "log_words",
    "log_length_ratio",
    "stance_member",
    "stance_candidate",
    "stance_match",
    "stance_both",
)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}

PRIOR_NEUTRAL = 4.0
PRIOR_TYPICAL_SIM = 0.5
PRIOR_SLOPE = 6.0
PRIOR_CRITIQUE_SLOPE = 4.0
PRIOR_STANCE_SLOPE = 2.5
PRIOR_BOTH_SLOPE = 0.75
PRIOR_FORMULA = (
    "clip(4 + 6 * (sim_own - 0.5) + 2.5 * stance_match + 0.75 * stance_both "
    "+ 4 * critique_gain, 1, 7)"
)

HEAD_FORMAT_VERSION = 2
DEFAULT_RIDGE = 10.0


@dataclass(frozen=True)
class RatingExample:
    """One collected rating: how much the member who wrote `opinion` agreed with `candidate`.

    `critique` and `previous_winner` are set for a critique iteration. `other_opinions` are the
    other group members' opinions of that round, when known (they feed the group features).
    `affirming_statement` and `negating_statement` are the question's position statements and
    `position_rating` the member's agreement (1-7) with the affirming one before the round, when
    known (they feed the stance features).
    """

    question: str
    opinion: str
    candidate: str
    agreement: float
    critique: str | None = None
    previous_winner: str | None = None
    other_opinions: tuple[str, ...] = field(default_factory=tuple)
    affirming_statement: str | None = None
    negating_statement: str | None = None
    position_rating: float | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RatingExample:
        try:
            return cls(
                question=data["question"],
                opinion=data["opinion"],
                candidate=data["candidate"],
                agreement=data["agreement"],
                critique=data.get("critique"),
                previous_winner=data.get("previous_winner"),
                other_opinions=tuple(data.get("other_opinions") or ()),
                affirming_statement=data.get("affirming_statement"),
                negating_statement=data.get("negating_statement"),
                position_rating=data.get("position_rating"),
            )
        except KeyError as exc:
            raise ValueError(f"a rating example needs {exc.args[0]!r}") from None


def prior_agreement(features: np.ndarray) -> np.ndarray:
    """The documented prior (see the module docstring) over a `[..., len(FEATURES)]` array."""
    features = np.asarray(features, dtype=float)
    raw = (
        PRIOR_NEUTRAL
        + PRIOR_SLOPE * (features[..., FEATURE_INDEX["sim_own"]] - PRIOR_TYPICAL_SIM)
        + PRIOR_STANCE_SLOPE * features[..., FEATURE_INDEX["stance_match"]]
        + PRIOR_BOTH_SLOPE * features[..., FEATURE_INDEX["stance_both"]]
        + PRIOR_CRITIQUE_SLOPE * features[..., FEATURE_INDEX["critique_gain"]]
    )
    return np.clip(raw, LIKERT_MIN, LIKERT_MAX)


@dataclass
class Head:
    """The correction fitted on top of the prior: `prior + ((x - mean) / scale) @ weights + bias`.

    `trained_on == 0` means no correction at all: predictions are the prior.
    """

    weights: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    mean: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    scale: np.ndarray = field(default_factory=lambda: np.ones(len(FEATURES)))
    bias: float = 0.0
    ridge: float = DEFAULT_RIDGE
    trained_on: int = 0

    @property
    def label(self) -> str:
        return "prior" if self.trained_on == 0 else f"fitted-{self.trained_on}"

    def predict(self, features: np.ndarray) -> np.ndarray:
        prior = prior_agreement(features)
        if self.trained_on == 0:
            return prior
        z = (features - self.mean) / self.scale
        return np.clip(prior + z @ self.weights + self.bias, LIKERT_MIN, LIKERT_MAX)

    @classmethod
    def fit(cls, features: np.ndarray, agreement: np.ndarray, *, ridge: float) -> Head:
        """Ridge regression of `agreement - prior` on standardised features, closed form.

        The bias is not penalised (it is the mean residual); features that do not vary in the
        training data get scale 1 and, through the penalty, weight 0.
        """
        x = np.asarray(features, dtype=float)
        y = np.asarray(agreement, dtype=float)
        residual = y - prior_agreement(x)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 1e-8, scale, 1.0)
        z = (x - mean) / scale
        bias = float(residual.mean())
        gram = z.T @ z + ridge * np.eye(z.shape[1])
        weights = np.linalg.solve(gram, z.T @ (residual - bias))
        return cls(
            weights=weights, mean=mean, scale=scale, bias=bias, ridge=ridge, trained_on=len(y)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": HEAD_FORMAT_VERSION,
            "kind": "commonground-embedding-head",
            "encoder": MODEL_NAME,
            "features": list(FEATURES),
            "prior": PRIOR_FORMULA,
            "ridge": self.ridge,
            "trained_on": self.trained_on,
            "bias": self.bias,
            "weights": self.weights.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Head:
        if data.get("format_version") != HEAD_FORMAT_VERSION:
            raise ConfigError(
                f"embedding head format_version {data.get('format_version')!r} is not "
                f"{HEAD_FORMAT_VERSION}"
            )
        if list(data.get("features") or []) != list(FEATURES):
            raise ConfigError(
                "the embedding head was fitted on other features "
                f"({data.get('features')}); refit it with this version"
            )
        try:
            head = cls(
                weights=np.asarray(data["weights"], dtype=float),
                mean=np.asarray(data["mean"], dtype=float),
                scale=np.asarray(data["scale"], dtype=float),
                bias=float(data["bias"]),
                ridge=float(data["ridge"]),
                trained_on=int(data["trained_on"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the embedding head file is incomplete: {exc}") from exc
        for name in ("weights", "mean", "scale"):
            value = getattr(head, name)
            if value.shape != (len(FEATURES),) or not np.all(np.isfinite(value)):
                raise ConfigError(f"the embedding head's {name} are not {len(FEATURES)} numbers")
        if np.any(head.scale <= 0) or not math.isfinite(head.bias) or head.trained_on < 0:
            raise ConfigError("the embedding head has a non-positive scale or a bad bias/count")
        return head


def load_head(path: str | os.PathLike[str]) -> Head:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no embedding head at {str(path)!r}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the embedding head at {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"the embedding head at {str(path)!r} is not a JSON object")
    return Head.from_dict(data)


def check_example(row: RatingExample, i: int) -> None:
    for name in ("question", "opinion", "candidate"):
        value = getattr(row, name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"rating example {i}: {name} is empty")
    try:
        agreement = float(row.agreement)
    except (TypeError, ValueError):
        raise ValueError(
            f"rating example {i}: agreement {row.agreement!r} is not a number"
        ) from None
    if not LIKERT_MIN <= agreement <= LIKERT_MAX:
        raise ValueError(f"rating example {i}: agreement {agreement} is outside 1-7")
    if row.position_rating is not None:
        try:
            rating = float(row.position_rating)
        except (TypeError, ValueError):
            raise ValueError(
                f"rating example {i}: position_rating {row.position_rating!r} is not a number"
            ) from None
        if not LIKERT_MIN <= rating <= LIKERT_MAX:
            raise ValueError(f"rating example {i}: position_rating {rating} is outside 1-7")
    if row.critique is not None and not (row.previous_winner or "").strip():
        raise ValueError(f"rating example {i}: a critique needs the previous winner it critiques")
