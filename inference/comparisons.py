"""The statements a condition shows beside the mediator's winner, for comparison (METHOD.md §5).

- **Best opinion** [B22]: the group's own opinion with the highest predicted welfare for the
  group. Every opinion is scored as a candidate by the same reward model, and the predictions
  are aggregated exactly as the mediator aggregates its candidates (welfare EDE_alpha or Schulze
  with TBRC), so the comparison is like for like.
- **Baseline**: another mediator's statement, by default the same generator without reranking
  (N = 1: its one sample is the statement). `baseline_config` builds its config; the statement
  itself is one `inference.mediation.mediate` call with that config.

Pure: the backends are passed in, nothing is built or stored here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.base import RewardModel, RoundText, check_predictions
from inference.config import MediationConfig
from inference.mediation import (
    aggregate,
    aggregation_to_dict,
    check_include,
    check_round_text,
    check_settings,
)


@dataclass
class BestOpinion:
    """The outcome of `best_opinion`.

    - `index`: the winning opinion, an index into the opinions given.
    - `predictions`: float array `[members, opinions]`, predicted agreement (1-7) of every
      member with every opinion, as a candidate statement.
    - `scores`: float array `[opinions]`, higher is better, `index == argmax(scores)` (ties go to
      the earlier opinion for welfare, to TBRC for Schulze).
    - `included`: the members whose predictions were aggregated, ascending.
    - `aggregation`: `method`, `alpha` (`None` for Schulze), `seed`, and the social ranking of
      the opinions (0 = best) with ties (`tied`) and after tie-breaking (`untied`).
    - `reward_model`: the backend's `describe()`.
    """

    index: int
    predictions: np.ndarray
    scores: np.ndarray
    included: list[int]
    aggregation: dict[str, Any]
    reward_model: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: lists of floats and ints, `alpha` infinity as `"inf"`."""
        return {
            "index": int(self.index),
            "predictions": [[float(v) for v in row] for row in self.predictions],
            "scores": [float(v) for v in self.scores],
            "included": [int(i) for i in self.included],
            "aggregation": aggregation_to_dict(self.aggregation),
            "reward_model": dict(self.reward_model),
        }


def best_opinion(
    round_text: RoundText,
    *,
    reward_model: RewardModel,
    aggregation: str = "welfare",
    alpha: float = 1.0,
    seed: int = 0,
    include: Sequence[int] | None = None,
) -> BestOpinion:
    """The opinion of `round_text` with the highest predicted welfare for the group.

    The round's opinions are both the members and the candidates, so the reward model scores
    them with everything it reads of the round (position statements and ratings too), as it
    scores the mediator's candidates. `include` lists the members whose predictions are
    aggregated (`None`: everyone); predictions are made for every member. `aggregation`, `alpha`
    and `seed` mean what they mean for `inference.mediation.mediate`. Only for opinion
    iterations: the best opinion does not depend on critiques.

    Raises `TypeError` when `round_text` is not a `RoundText`; `ValueError` for a critique
    iteration or bad settings, before the reward model is called; `BadModelOutput` when the
    reward model returns a wrongly shaped or out-of-range matrix; every other `InferenceError`
    of the backend propagates unchanged.
    """
    check_round_text(round_text)
    if round_text.is_critique:
        raise ValueError("the best opinion is chosen in the opinion iteration, not a critique one")
    _, alpha, seed = check_settings(n_candidates=1, aggregation=aggregation, alpha=alpha, seed=seed)
    members = len(round_text.opinions)
    included = check_include(include, members)
    raw = reward_model.predict(round_text, round_text.opinions)
    predictions = check_predictions(raw, members=members, candidates=members)
    scores, record = aggregate(
        predictions[included], aggregation=aggregation, alpha=alpha, seed=seed
    )
    return BestOpinion(
        index=int(np.argmin(record["untied"])),
        predictions=predictions,
        scores=scores,
        included=included,
        aggregation=record,
        reward_model=reward_model.describe(),
    )


def comparison_seed(seed: int, name: str) -> int:
    """A seed for comparison `name` derived from the iteration's seed: a non-negative 31-bit
    integer (what model servers accept), stable across processes, and different from `seed`, so
    that a baseline from the same generator is a sample of its own, not the mediator's first."""
    digest = hashlib.sha256(f"{int(seed)}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


# The baseline mediator samples one candidate: no reranking.
BASELINE_N_CANDIDATES = 1


def baseline_config(
    config: MediationConfig, overrides: Mapping[str, Any] | None
) -> MediationConfig:
    """The baseline mediator's config: `config` (the iteration's) with N = 1 (no reranking),
    then `overrides` (a condition's `baseline_config`, the shape of `MediationConfig.from_dict`)
    on top. Unless the overrides set a `seed`, it is `comparison_seed(config.seed, "baseline")`.

    Raises `ConfigError` for overrides that do not make a valid config.
    """
    overrides = dict(overrides or {})
    merged = config.merged({"n_candidates": BASELINE_N_CANDIDATES}).merged(overrides)
    if "seed" in overrides:
        return merged
    return merged.with_seed(comparison_seed(config.seed, "baseline"))
