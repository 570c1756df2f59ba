"""Per-condition summary, win rates, the exclusion effect and positions (METHOD.md §6).

Each function takes `analysis.frames.Frames` and returns JSON-ready rows (lists of dicts);
`analysis.definitions.DEFINITIONS` says what every field means. Conditions are never pooled:
every row names its condition. Intervals are bootstrap intervals over groups
(`analysis.stats.interval`), `None` with a note when too few groups contribute."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from analysis.definitions import MIN_GROUPS_FOR_INTERVAL
from analysis.frames import Frames
from analysis.stats import (
    ede,
    interval,
    mean_abs_pairwise,
    preference,
    ratio,
    rounded,
    split_by,
)

ROLES = ("candidate", "best_opinion", "baseline")
REVISION = ("revision", "previous_winner")


def condition_summary(frames: Frames) -> list[dict[str, Any]]:
    """Per condition: groups, participants (people and bots apart) and the winners' figures
    (`winner_mean_agreement`, `winner_min_agreement`, `winner_mean_quality`, `ede`,
    `divisiveness`), overall and per iteration index."""
    out = []
    for condition in frames.conditions:
        name = condition["name"]
        seated = frames.participants[frames.participants["condition"] == name]
        rated = frames.ratings[frames.ratings["condition"] == name]
        winners = rated[rated["label"] == "candidate"]
        out.append(
            {
                "name": name,
                "exclusion": condition["exclusion"],
                "comparisons": condition["comparisons"],
                "groups": int(rated["group_id"].nunique()),
                "participants": {
                    "people": int((seated["provenance"] == "human_citizen").sum()),
                    "bots": int((seated["provenance"] == "bot_citizen").sum()),
                },
                "winner": {
                    **_winner_figures(winners),
                    "by_iteration": [
                        {"iteration_index": int(index), **_winner_figures(part)}
                        for index, part in winners.groupby("index", sort=True)
                    ],
                },
            }
        )
    return out


def _winner_figures(ratings: pd.DataFrame) -> dict[str, Any]:
    per = []
    for _, (agreement, quality) in split_by(ratings, "statement_id", "agreement", "quality"):
        per.append(
            {
                "mean": agreement.mean(),
                "min": agreement.min(),
                "quality": quality.mean(),
                "ede": ede(agreement),
                "divisiveness": mean_abs_pairwise(agreement),
            }
        )

    def average(values):
        values = [v for v in values if v is not None]
        return rounded(float(np.mean(values))) if values else None

    return {
        "statements": len(per),
        "ratings": len(ratings),
        "mean_agreement": average(p["mean"] for p in per),
        "min_agreement": average(p["min"] for p in per),
        "mean_quality": average(p["quality"] for p in per),
        "ede": {key: average(p["ede"][key] for p in per) for key in ("0", "1", "inf")},
        "divisiveness": average(p["divisiveness"] for p in per),
    }


def win_rates(
    frames: Frames,
    *,
    resamples: int,
    seed: int,
    min_groups: int = MIN_GROUPS_FOR_INTERVAL,
) -> list[dict[str, Any]]:
    """`win_rate` for every pair of roles rated together in an iteration, and
    `revision_win_rate` for iterations k >= 1, per condition and iteration index."""
    scores = _role_scores(frames) + _revision_scores(frames)
    if not scores:
        return []
    table = pd.DataFrame(scores)
    order = {c["name"]: i for i, c in enumerate(frames.conditions)}
    pairs = {pair: i for i, pair in enumerate([*combinations(ROLES, 2), REVISION])}
    table["_c"] = table["condition"].map(order)
    table["_p"] = [pairs[(a, b)] for a, b in zip(table["a"], table["b"], strict=True)]
    out = []
    for (_, index, _, a, b), part in table.groupby(["_c", "index", "_p", "a", "b"], sort=True):
        per_group = part.groupby("group_id")["score"].agg(["sum", "count"]).to_numpy(float)
        ci, note = interval(per_group, ratio, resamples=resamples, seed=seed,
                            min_groups=min_groups)  # fmt: skip
        row = {
            "condition": part["condition"].iloc[0],
            "iteration_index": int(index),
            "a": a,
            "b": b,
            "rate": rounded(part["score"].mean()),
            "ci": _rounded_pair(ci),
            "comparisons": len(part),
            "groups": len(per_group),
            "note": note,
        }
        if (a, b) == REVISION:
            row["basis"] = {
                basis: int((part["basis"] == basis).sum())
                for basis in ("final_ranking", "agreement")
            }
        out.append(row)
    return out


def _role_scores(frames: Frames) -> list[dict[str, Any]]:
    rated = frames.ratings[frames.ratings["label"].isin(ROLES)]
    if rated.empty:
        return []
    keys = ["condition", "index", "group_id", "iteration_id", "participant_id"]
    wide = rated.pivot_table(index=keys, columns="label", values="agreement", aggfunc="mean")
    scores = []
    for a, b in combinations(ROLES, 2):
        if a not in wide or b not in wide:
            continue
        both = wide[wide[a].notna() & wide[b].notna()]
        for key, row in both.iterrows():
            condition, index, group_id, _, _ = key
            scores.append(
                {
                    "condition": condition,
                    "index": int(index),
                    "group_id": group_id,
                    "a": a,
                    "b": b,
                    "score": preference(row[a], row[b]),
                }
            )
    return scores


def _revision_scores(frames: Frames) -> list[dict[str, Any]]:
    winners = frames.statements[frames.statements["label"] == "candidate"]
    by_round = {
        (row.round_id, int(row.index)): row.statement_id
        for row in winners.itertuples()
        if not pd.isna(row.index)
    }
    finals = frames.rankings[frames.rankings["kind"] == "final"]
    final_rank = {(row.participant_id, row.statement_id): row.rank for row in finals.itertuples()}
    agreement = {
        (row.participant_id, row.statement_id): row.agreement for row in frames.ratings.itertuples()
    }
    context = {
        row.round_id: (row.condition, row.group_id) for row in frames.iterations.itertuples()
    }
    members = frames.ratings[["round_id", "participant_id"]].drop_duplicates()
    scores = []
    for row in members.itertuples():
        k = 1
        while (row.round_id, k) in by_round:
            new, old = by_round[(row.round_id, k)], by_round.get((row.round_id, k - 1))
            k += 1
            if old is None:
                continue
            pid = row.participant_id
            if (pid, new) in final_rank and (pid, old) in final_rank:
                score = preference(-final_rank[(pid, new)], -final_rank[(pid, old)])
                basis = "final_ranking"
            elif (pid, new) in agreement and (pid, old) in agreement:
                score = preference(agreement[(pid, new)], agreement[(pid, old)])
                basis = "agreement"
            else:
                continue
            condition, group_id = context[row.round_id]
            scores.append(
                {
                    "condition": condition,
                    "index": k - 1,
                    "group_id": group_id,
                    "a": REVISION[0],
                    "b": REVISION[1],
                    "score": score,
                    "basis": basis,
                }
            )
    return scores


def exclusion_effect(
    frames: Frames,
    *,
    resamples: int,
    seed: int,
    min_groups: int = MIN_GROUPS_FOR_INTERVAL,
) -> list[dict[str, Any]]:
    """`exclusion_effect` per exclusion condition and iteration index."""
    out = []
    excluded = set(zip(frames.exclusions["round_id"], frames.exclusions["participant_id"],
                       strict=True))  # fmt: skip
    for condition in frames.conditions:
        if not condition["exclusion"]:
            continue
        rated = frames.ratings[
            (frames.ratings["condition"] == condition["name"])
            & (frames.ratings["label"] == "candidate")
        ].copy()
        rated["excluded"] = [
            (r, p) in excluded for r, p in zip(rated["round_id"], rated["participant_id"],
                                               strict=True)
        ]  # fmt: skip
        for index, part in rated.groupby("index", sort=True):
            sums = part.groupby(["group_id", "excluded"])["agreement"].agg(["sum", "count"])
            per_group = []
            for group_id in part["group_id"].unique():
                if (group_id, True) in sums.index and (group_id, False) in sums.index:
                    ex, inc = sums.loc[(group_id, True)], sums.loc[(group_id, False)]
                    per_group.append([ex["sum"], ex["count"], inc["sum"], inc["count"]])
            data = np.asarray(per_group, dtype=float).reshape(-1, 4)
            if len(data):
                excluded_mean = data[:, 0].sum() / data[:, 1].sum()
                included_mean = data[:, 2].sum() / data[:, 3].sum()
                ci, note = interval(data, _difference, resamples=resamples, seed=seed,
                                    min_groups=min_groups)  # fmt: skip
            else:
                excluded_mean = included_mean = float("nan")
                ci, note = None, "no group had both excluded and included members' ratings"
            out.append(
                {
                    "condition": condition["name"],
                    "iteration_index": int(index),
                    "included_mean": rounded(included_mean),
                    "excluded_mean": rounded(excluded_mean),
                    "difference": rounded(excluded_mean - included_mean),
                    "ci": _rounded_pair(ci),
                    "excluded_ratings": int(data[:, 1].sum()),
                    "included_ratings": int(data[:, 3].sum()),
                    "groups": len(data),
                    "note": note,
                }
            )
    return out


def _difference(columns: np.ndarray) -> np.ndarray:
    return ratio(columns[..., 0:2]) - ratio(columns[..., 2:4])


def positions(
    frames: Frames,
    *,
    resamples: int,
    seed: int,
    min_groups: int = MIN_GROUPS_FOR_INTERVAL,
) -> list[dict[str, Any]]:
    """Per condition: position agreement before and after (`position_change`) and the
    within-group spread before and after (`position_spread`), over members who gave both."""
    out = []
    keys = ["condition", "group_id", "round_id", "participant_id"]
    ratings = frames.positions[frames.positions["index"].isin([0, 1])]
    wide = ratings.pivot_table(index=keys, columns="index", values="agreement", aggfunc="mean")
    for column in (0, 1):
        if column not in wide:
            wide[column] = np.nan
    wide = wide[wide[0].notna() & wide[1].notna()].reset_index()
    for condition in frames.conditions:
        part = wide[wide["condition"] == condition["name"]]
        means = [
            [before.sum(), after.sum(), len(before)]
            for _, (before, after) in split_by(part, "group_id", 0, 1)
        ]
        spreads_by_group: dict[Any, list[tuple[float, float]]] = {}
        for (group_id, _), (before, after) in split_by(part, ["group_id", "round_id"], 0, 1):
            if len(before) >= 2:
                spreads_by_group.setdefault(group_id, []).append(
                    (mean_abs_pairwise(before), mean_abs_pairwise(after))
                )
        spreads = [
            [sum(b for b, _ in pairs), sum(a for _, a in pairs), len(pairs)]
            for pairs in spreads_by_group.values()
        ]
        means_a = np.asarray(means, dtype=float).reshape(-1, 3)
        spreads_a = np.asarray(spreads, dtype=float).reshape(-1, 3)
        row: dict[str, Any] = {
            "condition": condition["name"],
            "members": int(means_a[:, 2].sum()),
            "groups": len(means_a),
            "group_rounds": int(spreads_a[:, 2].sum()),
        }
        notes = []
        for name, data, statistic in (
            ("before", means_a, _mean_of(0)),
            ("after", means_a, _mean_of(1)),
            ("change", means_a, _change),
            ("spread_before", spreads_a, _mean_of(0)),
            ("spread_after", spreads_a, _mean_of(1)),
            ("spread_change", spreads_a, _change),
        ):
            if len(data) == 0:
                row[name], row[f"{name}_ci"] = None, None
                notes.append(f"{name}: no data")
                continue
            row[name] = rounded(float(statistic(data[None])[0]))
            ci, note = interval(data, statistic, resamples=resamples, seed=seed,
                                min_groups=min_groups)  # fmt: skip
            row[f"{name}_ci"] = _rounded_pair(ci)
            if note and note not in notes:
                notes.append(note)
        row["note"] = "; ".join(notes) or None
        out.append(row)
    return out


def _mean_of(column: int):
    def statistic(data: np.ndarray) -> np.ndarray:
        return data[..., column].sum(axis=-1) / data[..., 2].sum(axis=-1)

    return statistic


def _change(data: np.ndarray) -> np.ndarray:
    return (data[..., 1].sum(axis=-1) - data[..., 0].sum(axis=-1)) / data[..., 2].sum(axis=-1)


def _rounded_pair(ci: list[float] | None) -> list[float] | None:
    return None if ci is None else [rounded(ci[0]), rounded(ci[1])]
