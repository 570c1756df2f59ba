"""Reward models judged on held-out questions, by the figures METHOD.md §6 names.

Every model is asked the way the mediation asks it: one `predict(round_text, candidates)` call
per iteration, the round's text with every opinion of the round, each member's critique in a
critique iteration and the position statements and ratings, and every statement the members
rated or ranked there as candidates (`predict_examples`). So the prior, the model now serving and a new model are
compared on the same calls, whatever their backend.

Figures (`heldout_metrics`):

- `mae`: mean absolute error of predicted vs observed agreement (1-7), over every rating;
- `spearman`: Spearman's rho between predicted and observed agreement within each group's
  iteration (every rating of its members there), then the median over iterations; iterations
  with fewer than 3 ratings, or with constant predictions or observations, are left out
  (`spearman_groups` counts those kept);
- `pairwise_accuracy`: over every pair of statements a member ranked apart in an iteration, the
  share where the model predicts that member's agreement higher for the one ranked higher
  (equal predictions count half); null without rankings;
- `calibration`: per predicted value rounded to 1..7, the number of ratings and the mean
  predicted and observed agreement; and the overall means (`mean_predicted`, `mean_observed`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from inference.base import RoundText

SPEARMAN_MIN_RATINGS = 3
HEADLINE = ("mae", "spearman", "pairwise_accuracy")

Progress = Callable[[int, int], None]


def _members(
    rows: pd.DataFrame, pair_rows: pd.DataFrame
) -> tuple[list[str], list[str], list, list]:
    """(participant ids, opinions, critiques, position ratings) of an iteration: the members who
    rated or ranked there first, then the round's other writers (their opinions shape the group
    features; their position ratings are not in the examples: None)."""
    seen: dict[str, tuple[str, Any, tuple[str, ...], Any]] = {}
    for frame in (rows, pair_rows):
        for r in frame.itertuples(index=False):
            position = getattr(r, "position_rating", None)
            seen.setdefault(
                r.participant_id,
                (r.opinion, r.critique, tuple(r.other_opinions or ()), _number(position)),
            )
    pids = sorted(seen)
    opinions = [seen[p][0] for p in pids]
    critiques = [seen[p][1] for p in pids]
    positions = [seen[p][3] for p in pids]
    everyone = Counter([seen[pids[0]][0], *seen[pids[0]][2]])
    everyone.subtract(Counter(opinions))
    for text, count in sorted(everyone.items()):
        for _ in range(max(count, 0)):
            pids.append("")
            opinions.append(text)
            critiques.append(None)
            positions.append(None)
    return pids, opinions, critiques, positions


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def predict_examples(
    model, examples: pd.DataFrame, pairs: pd.DataFrame | None = None, *, progress=None
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted agreement for every rating row of `examples`, and `[len(pairs), 2]` predicted
    agreement of the member with (preferred, other) for every pair. `model` is any reward model
    (`inference.base.RewardModel`)."""
    pairs = pairs if pairs is not None else pd.DataFrame(columns=examples.columns)
    rated = np.full(len(examples), np.nan)
    paired = np.full((len(pairs), 2), np.nan)
    iterations = sorted(set(examples["iteration_id"]) | set(pairs["iteration_id"]))
    by_iteration = examples.groupby("iteration_id").indices if len(examples) else {}
    pairs_by_iteration = pairs.groupby("iteration_id").indices if len(pairs) else {}
    for step, iteration_id in enumerate(iterations, 1):
        idx = by_iteration.get(iteration_id, np.array([], dtype=int))
        pidx = pairs_by_iteration.get(iteration_id, np.array([], dtype=int))
        rows, pair_rows = examples.iloc[idx], pairs.iloc[pidx]
        first = rows.iloc[0] if len(rows) else pair_rows.iloc[0]
        pids, opinions, critiques, positions = _members(rows, pair_rows)
        candidates = list(
            dict.fromkeys(
                [*rows["statement"], *pair_rows.get("preferred", []), *pair_rows.get("other", [])]
            )
        )
        previous = first["previous_winner"]
        critique_round = isinstance(previous, str) and bool(previous)
        round_text = RoundText(
            question=first["question"],
            opinions=opinions,
            previous_winner=previous if critique_round else None,
            critiques=[c or "" for c in critiques] if critique_round else None,
            affirming_statement=_text(first.get("affirming_statement")),
            negating_statement=_text(first.get("negating_statement")),
            position_ratings=positions,
        )
        matrix = model.predict(round_text, candidates)
        member = {p: i for i, p in enumerate(pids) if p}
        column = {c: j for j, c in enumerate(candidates)}
        for k, r in zip(idx, rows.itertuples(index=False), strict=True):
            rated[k] = matrix[member[r.participant_id], column[r.statement]]
        for k, r in zip(pidx, pair_rows.itertuples(index=False), strict=True):
            i = member[r.participant_id]
            paired[k] = (matrix[i, column[r.preferred]], matrix[i, column[r.other]])
        if progress is not None:
            progress(step, len(iterations))
    return rated, paired


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < SPEARMAN_MIN_RATINGS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    value = float(np.corrcoef(rx, ry)[0, 1])
    return value if math.isfinite(value) else None


def heldout_metrics(
    examples: pd.DataFrame, predicted: np.ndarray, pair_predictions: np.ndarray | None = None
) -> dict[str, Any]:
    """The figures of the module docstring for predictions of `examples` (and of pairs)."""
    observed = examples["agreement"].to_numpy(dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if len(observed) == 0:
        raise ValueError("there are no held-out ratings to evaluate on")
    rhos = []
    for idx in examples.groupby("iteration_id").indices.values():
        rho = _spearman(predicted[idx], observed[idx])
        if rho is not None:
            rhos.append(rho)
    pairwise = None
    if pair_predictions is not None and len(pair_predictions):
        diff = pair_predictions[:, 0] - pair_predictions[:, 1]
        pairwise = float(np.mean(np.where(diff > 0, 1.0, np.where(diff == 0, 0.5, 0.0))))
    bins = np.clip(np.rint(predicted), 1, 7).astype(int)
    calibration = [
        {
            "predicted": int(b),
            "n": int((bins == b).sum()),
            "mean_predicted": round(float(predicted[bins == b].mean()), 4),
            "mean_observed": round(float(observed[bins == b].mean()), 4),
        }
        for b in range(1, 8)
        if (bins == b).any()
    ]
    return {
        "mae": round(float(np.mean(np.abs(predicted - observed))), 4),
        "spearman": round(float(np.median(rhos)), 4) if rhos else None,
        "spearman_groups": len(rhos),
        "pairwise_accuracy": round(pairwise, 4) if pairwise is not None else None,
        "pairs": 0 if pair_predictions is None else len(pair_predictions),
        "ratings": len(observed),
        "mean_predicted": round(float(predicted.mean()), 4),
        "mean_observed": round(float(observed.mean()), 4),
        "calibration": calibration,
    }


def evaluate_model(model, examples: pd.DataFrame, pairs: pd.DataFrame | None = None, **kw):
    """`heldout_metrics` of `model` on `examples` and `pairs`."""
    rated, paired = predict_examples(model, examples, pairs, **kw)
    return heldout_metrics(examples, rated, paired if pairs is not None else None)


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The three figures the commands print: mae, spearman, pairwise_accuracy."""
    return {k: metrics.get(k) for k in HEADLINE}


def comparison_table(rows: dict[str, dict[str, Any]]) -> str:
    """A small text table of the headline figures, one line per model."""
    lines = [f"{'model':<10} {'MAE':>7} {'Spearman':>9} {'pairwise':>9} {'ratings':>8}"]
    for name, m in rows.items():
        if m is None:
            lines.append(f"{name:<10} {'(not evaluated)':>35}")
            continue

        def fmt(value, width):
            return f"{value:>{width}.3f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

        lines.append(
            f"{name:<10} {fmt(m.get('mae'), 7)} {fmt(m.get('spearman'), 9)} "
            f"{fmt(m.get('pairwise_accuracy'), 9)} {m.get('ratings', 0):>8}"
        )
    return "\n".join(lines)
