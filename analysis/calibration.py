"""Reward-model calibration: the predicted agreement of a member with a statement against the
agreement that member then gave (METHOD.md §6), per condition and question split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.frames import Frames, numbers
from analysis.stats import rounded, spearman, split_by

SPLITS = ("train", "iid_test", "ood_test", "none")
BIN_EDGES = (1, 2, 3, 4, 5, 6, 7)


def calibration(frames: Frames) -> dict[str, Any]:
    """`calibration_mae`, `calibration_spearman`, `calibration_pairwise_accuracy` and
    `calibration_bins` for every condition and split that has rated statements with a
    prediction. Only held-out splits measure a trained model fairly (`split`)."""
    pairs = frames.ratings.merge(
        frames.predictions[["statement_id", "participant_id", "value", "model_version_id"]],
        on=["statement_id", "participant_id"],
        how="inner",
    )
    versions = sorted({int(v) for v in numbers(pairs["model_version_id"]) if v == v})
    rows = []
    for condition in frames.conditions:
        mine = pairs[pairs["condition"] == condition["name"]]
        for split in SPLITS:
            part = mine[mine["split"] == split]
            if not part.empty:
                rows.append({"condition": condition["name"], "split": split, **_figures(part)})
    return {
        "model_versions": versions,
        "pairs": len(pairs),
        "rows": rows,
        "note": None if len(pairs) else "no rated statement has a reward-model prediction",
    }


def _pairwise(part: pd.DataFrame) -> tuple[float, int]:
    """(agreeing orders, pairs compared) over pairs of statements one member rated in one
    iteration with different agreement; equal predictions count half."""
    keys = ["participant_id", "iteration_id"]
    side = part[[*keys, "statement_id", "value", "agreement"]]
    both = side.merge(side, on=keys, suffixes=("_a", "_b"))
    both = both[(both["statement_id_a"] < both["statement_id_b"])
                & (both["agreement_a"] != both["agreement_b"])]  # fmt: skip
    if both.empty:
        return 0.0, 0
    observed = np.sign(both["agreement_a"].to_numpy(float) - both["agreement_b"].to_numpy(float))
    predicted = np.sign(both["value_a"].to_numpy(float) - both["value_b"].to_numpy(float))
    score = np.where(predicted == 0, 0.5, (predicted == observed).astype(float))
    return float(score.sum()), len(score)


def _figures(part: pd.DataFrame) -> dict[str, Any]:
    predicted = part["value"].to_numpy(dtype=float)
    observed = part["agreement"].to_numpy(dtype=float)
    rhos = [
        rho
        for _, (value, agreement) in split_by(part, "group_id", "value", "agreement")
        if (rho := spearman(value, agreement)) is not None
    ]
    agree, compared = _pairwise(part)
    bins = []
    index = np.clip(np.floor(predicted).astype(int), 1, 6)
    for low in BIN_EDGES[:-1]:
        inside = index == low
        bins.append(
            {
                "low": low,
                "high": low + 1,
                "pairs": int(inside.sum()),
                "mean_predicted": rounded(predicted[inside].mean()) if inside.any() else None,
                "mean_observed": rounded(observed[inside].mean()) if inside.any() else None,
            }
        )
    return {
        "pairs": len(part),
        "groups": int(part["group_id"].nunique()),
        "mae": rounded(np.abs(predicted - observed).mean()),
        "spearman_median": rounded(float(np.median(rhos))) if rhos else None,
        "spearman_groups": len(rhos),
        "pairwise_accuracy": rounded(agree / compared) if compared else None,
        "pairwise_pairs": compared,
        "bins": bins,
    }
