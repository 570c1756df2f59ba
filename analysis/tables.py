"""The report's sections as flat tables: the columns (with the definition each number follows)
for the results page, and CSV text for download. Plain Python."""

from __future__ import annotations

import csv
import io
from typing import Any

# table -> [(field, column label, DEFINITIONS key or None)]
COLUMNS: dict[str, list[tuple[str, str, str | None]]] = {
    "conditions": [
        ("name", "Condition", None),
        ("iteration_index", "Iteration", None),
        ("groups", "Groups", "groups"),
        ("people", "People", "participants"),
        ("bots", "Bots", "participants"),
        ("statements", "Winners", "winner_mean_agreement"),
        ("mean_agreement", "Mean agreement", "winner_mean_agreement"),
        ("min_agreement", "Minimum agreement", "winner_min_agreement"),
        ("mean_quality", "Mean quality", "winner_mean_quality"),
        ("ede_0", "EDE α=0", "ede"),
        ("ede_1", "EDE α=1", "ede"),
        ("ede_inf", "EDE α=∞", "ede"),
        ("divisiveness", "Divisiveness (ours)", "divisiveness"),
    ],
    "win_rates": [
        ("condition", "Condition", None),
        ("iteration_index", "Iteration", None),
        ("a", "A", "win_rate"),
        ("b", "B", "win_rate"),
        ("rate", "A preferred", "win_rate"),
        ("ci_low", "95% low", "interval"),
        ("ci_high", "95% high", "interval"),
        ("comparisons", "Comparisons", "win_rate"),
        ("groups", "Groups", "groups"),
        ("note", "Note", None),
    ],
    "exclusion": [
        ("condition", "Condition", None),
        ("iteration_index", "Iteration", None),
        ("included_mean", "Included", "exclusion_effect"),
        ("excluded_mean", "Excluded", "exclusion_effect"),
        ("difference", "Excluded − included", "exclusion_effect"),
        ("ci_low", "95% low", "interval"),
        ("ci_high", "95% high", "interval"),
        ("included_ratings", "Included ratings", None),
        ("excluded_ratings", "Excluded ratings", None),
        ("groups", "Groups", "groups"),
        ("note", "Note", None),
    ],
    "positions": [
        ("condition", "Condition", None),
        ("members", "Members", "position_change"),
        ("groups", "Groups", "groups"),
        ("before", "Before", "position_change"),
        ("after", "After", "position_change"),
        ("change", "Change", "position_change"),
        ("change_ci_low", "95% low", "interval"),
        ("change_ci_high", "95% high", "interval"),
        ("spread_before", "Spread before (ours)", "position_spread"),
        ("spread_after", "Spread after (ours)", "position_spread"),
        ("spread_change", "Spread change", "position_spread"),
        ("spread_change_ci_low", "95% low", "interval"),
        ("spread_change_ci_high", "95% high", "interval"),
        ("note", "Note", None),
    ],
    "critique_uptake": [
        ("condition", "Condition", None),
        ("iteration_index", "Iteration", None),
        ("side", "Critics", "minority"),
        ("critiques", "Critiques", "critique_uptake"),
        ("uptake", "Taken up (ours)", "critique_uptake"),
        ("ci_low", "95% low", "interval"),
        ("ci_high", "95% high", "interval"),
        ("mean_gain", "Mean similarity gain", "critique_uptake"),
        ("groups", "Groups", "groups"),
        ("note", "Note", None),
    ],
    "calibration": [
        ("condition", "Condition", None),
        ("split", "Split", "split"),
        ("pairs", "Pairs", "calibration_mae"),
        ("groups", "Groups", "groups"),
        ("mae", "MAE", "calibration_mae"),
        ("spearman_median", "Median Spearman ρ", "calibration_spearman"),
        ("spearman_groups", "Groups with ρ", "calibration_spearman"),
        ("pairwise_accuracy", "Pairwise accuracy", "calibration_pairwise_accuracy"),
        ("pairwise_pairs", "Pairs compared", "calibration_pairwise_accuracy"),
    ],
    "calibration_bins": [
        ("condition", "Condition", None),
        ("split", "Split", "split"),
        ("low", "From", "calibration_bins"),
        ("high", "To", "calibration_bins"),
        ("pairs", "Pairs", "calibration_bins"),
        ("mean_predicted", "Mean predicted", "calibration_bins"),
        ("mean_observed", "Mean observed", "calibration_bins"),
    ],
}
TITLES = {
    "conditions": "Winners by condition",
    "win_rates": "Win rates",
    "exclusion": "Exclusion effect",
    "positions": "Positions before and after",
    "critique_uptake": "Critique uptake",
    "calibration": "Reward-model calibration",
    "calibration_bins": "Calibration by predicted value",
}


def _with_ci(row: dict[str, Any], key: str = "ci", prefix: str = "ci") -> dict[str, Any]:
    ci = row.get(key)
    return {**row, f"{prefix}_low": ci[0] if ci else None, f"{prefix}_high": ci[1] if ci else None}


def report_tables(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every section of `analysis.report.report`'s dict as rows with the fields of `COLUMNS`
    (intervals split into low and high; winners once overall, iteration "all", and once per
    iteration index)."""
    conditions = []
    for c in result["conditions"]:
        for w, index in [(c["winner"], "all")] + [
            (i, i["iteration_index"]) for i in c["winner"]["by_iteration"]
        ]:
            conditions.append(
                {
                    "name": c["name"],
                    "iteration_index": index,
                    "groups": c["groups"],
                    "people": c["participants"]["people"],
                    "bots": c["participants"]["bots"],
                    **{k: w[k] for k in ("statements", "mean_agreement", "min_agreement",
                                         "mean_quality", "divisiveness")},
                    "ede_0": w["ede"]["0"],
                    "ede_1": w["ede"]["1"],
                    "ede_inf": w["ede"]["inf"],
                }
            )  # fmt: skip
    positions = [
        _with_ci(_with_ci(r, "change_ci", "change_ci"), "spread_change_ci", "spread_change_ci")
        for r in result["positions"]
    ]
    calibration = result["calibration"]["rows"]
    tables = {
        "conditions": conditions,
        "win_rates": [_with_ci(r) for r in result["win_rates"]],
        "exclusion": [_with_ci(r) for r in result["exclusion"]],
        "positions": positions,
        "critique_uptake": [_with_ci(r) for r in result["critique_uptake"]],
        "calibration": calibration,
        "calibration_bins": [
            {"condition": r["condition"], "split": r["split"], **b}
            for r in calibration
            for b in r["bins"]
        ],
    }
    return {
        name: [{field: row.get(field) for field, _, _ in COLUMNS[name]} for row in rows]
        for name, rows in tables.items()
    }


def to_csv(rows: list[dict[str, Any]], name: str) -> str:
    """CSV text of one table of `report_tables`, with a header of its field names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = [field for field, _, _ in COLUMNS[name]]
    writer.writerow(fields)
    for row in rows:
        writer.writerow(["" if row.get(f) is None else row.get(f) for f in fields])
    return out.getvalue()
