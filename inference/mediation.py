"""One mediation step: sample candidates, predict every member's agreement, pick the winner.

`mediate` is the whole pipeline of METHOD.md §1 steps 4-6 (and 8 for a critique iteration) for
one iteration of one group. The backends are passed in; nothing is built here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.aggregation import check_alpha, rankings_from_predictions, schulze, welfare
from inference.base import (
    BadModelOutput,
    Candidate,
    Generator,
    RewardModel,
    RoundText,
    check_predictions,
)
from inference.config import AGGREGATIONS, MediationConfig


@dataclass
class MediationResult:
    """Everything one mediation produced, for the record.

    - `candidates`: the generator's samples, in sample order. A candidate's
      `provenance["opinion_order"]` indexes the opinions the generator saw, that is
      `included`: position `k` there is member `included[k]`.
    - `predictions`: float array `[members, candidates]`, predicted agreement (1-7) of every
      member of the group, included or not.
    - `scores`: float array `[candidates]`, higher is better, `winner == argmax(scores)`.
      Welfare: the EDE_alpha of the included members' predictions (on the 1-7 scale).
      Schulze: `candidates - untied rank`, so the winner scores `candidates` and the last `1`.
    - `winner`: index of the winning candidate.
    - `included`: the members (indices into the opinions) the statement was written from and
      aggregated over, ascending.
    - `aggregation`: `method`, `alpha` (`None` for Schulze), `seed`, and the social ranking of
      the candidates (0 = best) with ties (`tied`) and after tie-breaking (`untied`). For
      welfare, `tied` gives exactly equal scores equal rank and `untied` breaks those ties by
      sample index.
    - `timings`: seconds spent in `generate_s`, `predict_s`, `aggregate_s`, and `total_s`.
    - `generator`, `reward_model`: the backends' `describe()`.
    """

    candidates: list[Candidate]
    predictions: np.ndarray
    scores: np.ndarray
    winner: int
    included: list[int]
    aggregation: dict[str, Any]
    timings: dict[str, float]
    generator: dict[str, Any]
    reward_model: dict[str, Any]

    @property
    def winning_candidate(self) -> Candidate:
        return self.candidates[self.winner]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: lists of floats and ints, `alpha` infinity as `"inf"`."""
        return {
            "candidates": [candidate.to_dict() for candidate in self.candidates],
            "predictions": [[float(v) for v in row] for row in self.predictions],
            "scores": [float(v) for v in self.scores],
            "winner": int(self.winner),
            "included": [int(i) for i in self.included],
            "aggregation": aggregation_to_dict(self.aggregation),
            "timings": {key: float(value) for key, value in self.timings.items()},
            "generator": dict(self.generator),
            "reward_model": dict(self.reward_model),
        }


def mediate(
    round_text: RoundText,
    *,
    generator: Generator,
    reward_model: RewardModel,
    n_candidates: int = 16,
    aggregation: str = "welfare",
    alpha: float = 1.0,
    seed: int = 0,
    include: Sequence[int] | None = None,
) -> MediationResult:
    """Run one mediation iteration for the group whose round is `round_text`.

    `round_text` was checked when it was made (`RoundText`); the backends get it as it is.
    `include` lists the members (indices into its opinions) the statement is written from: the
    generator sees only their opinions, critiques and position ratings
    (`round_text.members(included)`), and only their predictions decide the winner; the reward
    model still predicts for every member, so that the agreement of excluded members can be
    reported ([B22]'s exclusion condition). `None` includes everyone.

    `aggregation` is `"welfare"` (EDE with inequality aversion `alpha`, `math.inf` for the
    minimum) or `"schulze"` (Schulze over each included member's predicted ranking, TBRC
    tie-break seeded by `seed`). With `n_candidates = 1` the single sample wins; its
    predictions and score are still computed.

    Raises `TypeError` when `round_text` is not a `RoundText`, `ValueError` for bad settings (an
    empty, out-of-range or repeated `include`; a bad `n_candidates`, `aggregation` or `alpha`),
    both before any backend is called; `BadModelOutput` when a backend returns the wrong number
    or shape of things; every other `InferenceError` of a backend propagates unchanged.
    """
    started = time.perf_counter()
    check_round_text(round_text)
    n_candidates, alpha, seed = check_settings(
        n_candidates=n_candidates, aggregation=aggregation, alpha=alpha, seed=seed
    )
    members = len(round_text.opinions)
    included = check_include(include, members)
    written_from = round_text if len(included) == members else round_text.members(included)

    generate_started = time.perf_counter()
    candidates = generator.generate(written_from, n=n_candidates, seed=seed)
    _check_candidates(candidates, n_candidates)

    predict_started = time.perf_counter()
    raw = reward_model.predict(round_text, [candidate.text for candidate in candidates])
    predictions = check_predictions(raw, members=members, candidates=n_candidates)

    aggregate_started = time.perf_counter()
    scores, record = aggregate(
        predictions[included], aggregation=aggregation, alpha=alpha, seed=seed
    )
    finished = time.perf_counter()

    return MediationResult(
        candidates=list(candidates),
        predictions=predictions,
        scores=scores,
        winner=int(np.argmin(record["untied"])),
        included=included,
        aggregation=record,
        timings={
            "generate_s": predict_started - generate_started,
            "predict_s": aggregate_started - predict_started,
            "aggregate_s": finished - aggregate_started,
            "total_s": finished - started,
        },
        generator=generator.describe(),
        reward_model=reward_model.describe(),
    )


def mediate_with_config(
    round_text: RoundText,
    *,
    config: MediationConfig,
    generator: Generator,
    reward_model: RewardModel,
    include: Sequence[int] | None = None,
) -> MediationResult:
    """`mediate` with N, the aggregation, alpha and the seed taken from `config`.

    The backends are built by the caller (`inference.config.build_generator(config.generator)`,
    ...), so that they can be reused.
    """
    return mediate(
        round_text,
        generator=generator,
        reward_model=reward_model,
        n_candidates=config.n_candidates,
        aggregation=config.aggregation,
        alpha=config.alpha,
        seed=config.seed,
        include=include,
    )


def check_round_text(round_text: Any) -> RoundText:
    """`round_text` itself, or `TypeError` when it is not a `RoundText` (the one type whose
    making checks a round's text)."""
    if not isinstance(round_text, RoundText):
        raise TypeError(
            f"a round's text must be a RoundText, not {type(round_text).__name__}: build it "
            "with RoundText(question=..., opinions=[...], ...), which checks it"
        )
    return round_text


def aggregate(
    rows: np.ndarray, *, aggregation: str, alpha: float, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The group's scores and social ranking of the candidates from the rows that count.

    `rows` is `[members, candidates]` of checked predictions (1-7). Returns `(scores, record)`:
    `scores` `[candidates]`, higher = better, and the aggregation record `MediationResult`
    documents, `{"method", "alpha" (None for Schulze), "seed", "tied", "untied"}`, rankings
    `[candidates]` with 0 = best (welfare: EDE_alpha, ties broken by candidate index; Schulze:
    `candidates - untied rank`, TBRC tie-break seeded by `seed`). The winner is
    `argmin(record["untied"])`. The settings are assumed checked (`check_settings`).
    """
    n_candidates = rows.shape[1]
    if aggregation == "welfare":
        scores = welfare(rows, alpha)
        tied = np.unique(-scores, return_inverse=True)[1].astype(np.int64)
        untied = np.empty(n_candidates, dtype=np.int64)
        untied[np.argsort(-scores, kind="stable")] = np.arange(n_candidates)
    else:
        tied, untied = schulze(rankings_from_predictions(rows), tie_breaking="tbrc", seed=seed)
        scores = (n_candidates - untied).astype(float)
    record = {
        "method": aggregation,
        "alpha": alpha if aggregation == "welfare" else None,
        "seed": seed,
        "tied": tied,
        "untied": untied,
    }
    return scores, record


def aggregation_to_dict(record: dict[str, Any]) -> dict[str, Any]:
    """An `aggregate` record made JSON-safe: rankings as lists of ints, `alpha` infinity as
    `"inf"`."""
    data = dict(record)
    alpha = data.get("alpha")
    if alpha is not None:
        data["alpha"] = "inf" if alpha == math.inf else float(alpha)
    for key in ("tied", "untied"):
        data[key] = [int(r) for r in data[key]]
    return data


def check_settings(
    *, n_candidates: Any, aggregation: Any, alpha: Any, seed: Any
) -> tuple[int, float, int]:
    """The settings as plain Python numbers (numpy scalars are accepted), or `ValueError`."""
    whole = (int, np.integer)
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, whole) or n_candidates < 1:
        raise ValueError(f"n_candidates must be a whole number >= 1, not {n_candidates!r}")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
    alpha = check_alpha(alpha)
    if isinstance(seed, bool) or not isinstance(seed, whole):
        raise ValueError(f"seed must be a whole number, not {seed!r}")
    return int(n_candidates), alpha, int(seed)


def check_include(include: Sequence[int] | None, members: int) -> list[int]:
    if include is None:
        return list(range(members))
    chosen = list(include)
    if not chosen:
        raise ValueError("include is empty: the statement must be written from someone")
    for index in chosen:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"include holds {index!r}, not a member index")
        if not 0 <= index < members:
            raise ValueError(f"include holds {index}, but there are {members} members")
    if len(set(chosen)) != len(chosen):
        raise ValueError("include names a member more than once")
    return sorted(int(i) for i in chosen)


def _check_candidates(candidates: Any, n: int) -> None:
    if not isinstance(candidates, list) or len(candidates) != n:
        count = len(candidates) if isinstance(candidates, list) else type(candidates).__name__
        raise BadModelOutput(f"the generator returned {count} candidates, expected {n}")
    for i, candidate in enumerate(candidates):
        if not isinstance(candidate, Candidate) or not candidate.text.strip():
            raise BadModelOutput(f"candidate {i} is empty or not a Candidate", raw=candidate)
