"""The whole report of one deliberation, as one JSON-ready dict, and its readable summary.

    from analysis.tidy import load_tidy
    from analysis.report import report, report_text
    result = report(load_tidy("export.zip"), resamples=2000, seed=0)
    print(report_text(result))

The shape (documented in the README, "Results and statistics"):

    {"deliberation": {"id", "title"},
     "population": {"include_bots", "provenance": [..], "people", "bots", "note"},
     "settings": {"resamples", "seed", "confidence", "min_groups"},
     "conditions": [{"name", "exclusion", "comparisons", "groups",
                     "participants": {"people", "bots"},
                     "winner": {"statements", "ratings", "mean_agreement", "min_agreement",
                                "mean_quality", "ede": {"0", "1", "inf"}, "divisiveness",
                                "by_iteration": [{"iteration_index", ...same}]}}],
     "win_rates": [{"condition", "iteration_index", "a", "b", "rate", "ci": [lo, hi] | null,
                    "comparisons", "groups", "note", ("basis" for revision rows)}],
     "exclusion": [{"condition", "iteration_index", "included_mean", "excluded_mean",
                    "difference", "ci", "excluded_ratings", "included_ratings", "groups",
                    "note"}],
     "positions": [{"condition", "members", "groups", "group_rounds", "before", "before_ci",
                    "after", "after_ci", "change", "change_ci", "spread_before",
                    "spread_before_ci", "spread_after", "spread_after_ci", "spread_change",
                    "spread_change_ci", "note"}],
     "critique_uptake": [{"condition", "iteration_index", "side", "critiques", "uptake",
                          "mean_gain", "ci", "groups", "note"}],
     "calibration": {"model_versions", "pairs", "rows": [{"condition", "split", "pairs",
                     "groups", "mae", "spearman_median", "spearman_groups",
                     "pairwise_accuracy", "pairwise_pairs",
                     "bins": [{"low", "high", "pairs", "mean_predicted", "mean_observed"}]}],
                     "note"},
     "definitions": {metric: definition}}
"""

from __future__ import annotations

from typing import Any

from analysis.calibration import calibration
from analysis.critique import Similarity, critique_uptake
from analysis.definitions import CONFIDENCE, DEFINITIONS, MIN_GROUPS_FOR_INTERVAL
from analysis.frames import frame, prepare
from analysis.metrics import condition_summary, exclusion_effect, positions, win_rates


def report(
    tables: dict[str, Any],
    *,
    resamples: int = 2000,
    seed: int = 0,
    include_bots: bool = False,
    deliberation: str | None = None,
    similarity: Similarity | None = None,
    min_groups: int = MIN_GROUPS_FOR_INTERVAL,
) -> dict[str, Any]:
    """Every section for one deliberation of the tidy `tables` (`analysis.tidy.load_tidy`).

    People only unless `include_bots` (then people and bots together, and `population` says
    so). `deliberation` picks one deliberation's public id when the tables hold several;
    without it they must hold exactly one. Deterministic for a given `seed`.
    Raises `ValueError` for an unknown deliberation, several without a choice, or
    `resamples < 1`."""
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    tables, meta = _one_deliberation(tables, deliberation)
    frames = prepare(tables, include_bots=include_bots)
    options = {"resamples": resamples, "seed": seed, "min_groups": min_groups}
    return {
        "deliberation": meta,
        "population": _population(frames, include_bots),
        "settings": {**options, "confidence": CONFIDENCE},
        "conditions": condition_summary(frames),
        "win_rates": win_rates(frames, **options),
        "exclusion": exclusion_effect(frames, **options),
        "positions": positions(frames, **options),
        "critique_uptake": critique_uptake(frames, similarity=similarity, **options),
        "calibration": calibration(frames),
        "definitions": dict(DEFINITIONS),
    }


def _population(frames, include_bots: bool) -> dict[str, Any]:
    provenance = frames.participants["provenance"]
    people = int((provenance == "human_citizen").sum())
    bots = int((provenance == "bot_citizen").sum())
    note = None
    if not include_bots and bots:
        note = (
            f"{bots} bot{'s' if bots != 1 else ''} left out of every figure"
            + ("; no people took part, so there is nothing to show" if not people else "")
            + " (include_bots / --include-bots counts them)"
        )
    elif include_bots and people and bots:
        note = f"people ({people}) and bots ({bots}) together in every figure"
    return {
        "include_bots": include_bots,
        "provenance": list(frames.population),
        "people": people,
        "bots": bots,
        "note": note,
    }


def _one_deliberation(
    tables: dict[str, Any], deliberation: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    studies = frame(tables, "deliberations")
    ids = [str(i) for i in studies["deliberation_id"]]
    if deliberation is None:
        if len(ids) != 1:
            raise ValueError(
                f"the tables hold {len(ids)} deliberations; name one "
                f"({', '.join(ids) or 'none found'})"
            )
        deliberation = ids[0]
    if deliberation not in ids:
        raise ValueError(f"deliberation {deliberation} is not in the tables")
    row = studies[studies["deliberation_id"].astype(str) == deliberation].iloc[0]
    chosen = dict(tables)
    for name in ("conditions", "groups", "participants"):
        part = frame(tables, name)
        chosen[name] = part[part["deliberation_id"].astype(str) == deliberation]
    return chosen, {"id": deliberation, "title": str(row["title"])}


def _ci(ci: list[float] | None) -> str:
    return "" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report_text(result: dict[str, Any]) -> str:
    """A readable summary of `report`'s dict, for a terminal."""
    who = "people and bots" if result["population"]["include_bots"] else "people only"
    s = result["settings"]
    note = result["population"]["note"]
    lines = [
        f"Deliberation {result['deliberation']['title']} ({result['deliberation']['id']})",
        f"Population: {who}{f' ({note})' if note else ''}. Intervals: {int(s['confidence'] * 100)}% bootstrap over groups, "
        f"{s['resamples']} resamples, seed {s['seed']}, at least {s['min_groups']} groups.",
        "",
        "Conditions",
    ]
    for c in result["conditions"]:
        w = c["winner"]
        lines.append(
            f"  {c['name']}: {c['groups']} groups, {c['participants']['people']} people, "
            f"{c['participants']['bots']} bots; winners {w['statements']}: mean agreement "
            f"{_num(w['mean_agreement'])}, min {_num(w['min_agreement'])}, quality "
            f"{_num(w['mean_quality'])}, EDE 0/1/inf {_num(w['ede']['0'])}/"
            f"{_num(w['ede']['1'])}/{_num(w['ede']['inf'])}, divisiveness (ours) "
            f"{_num(w['divisiveness'])}"
        )
    sections = [
        ("Win rates (a over b)", result["win_rates"],
         lambda r: f"{r['condition']} it{r['iteration_index']}: {r['a']} over {r['b']} "
                   f"{_num(r['rate'])}{_ci(r['ci'])} ({r['comparisons']} comparisons, "
                   f"{r['groups']} groups)"),
        ("Exclusion effect (excluded - included)", result["exclusion"],
         lambda r: f"{r['condition']} it{r['iteration_index']}: {_num(r['excluded_mean'])} - "
                   f"{_num(r['included_mean'])} = {_num(r['difference'])}{_ci(r['ci'])} "
                   f"({r['groups']} groups)"),
        ("Positions (before -> after; spread, ours)", result["positions"],
         lambda r: f"{r['condition']}: {_num(r['before'])} -> {_num(r['after'])}, change "
                   f"{_num(r['change'])}{_ci(r['change_ci'])}; spread {_num(r['spread_before'])}"
                   f" -> {_num(r['spread_after'])}, change {_num(r['spread_change'])}"
                   f"{_ci(r['spread_change_ci'])} ({r['members']} members)"),
        ("Critique uptake (ours)", result["critique_uptake"],
         lambda r: f"{r['condition']} it{r['iteration_index']} {r['side']}: "
                   f"{_num(r['uptake'])}{_ci(r['ci'])} of {r['critiques']} critiques, "
                   f"mean gain {_num(r['mean_gain'])}"),
        ("Reward-model calibration", result["calibration"]["rows"],
         lambda r: f"{r['condition']} {r['split']}: MAE {_num(r['mae'])}, median Spearman "
                   f"{_num(r['spearman_median'])} ({r['spearman_groups']} groups), pairwise "
                   f"accuracy {_num(r['pairwise_accuracy'])} ({r['pairs']} pairs)"),
    ]  # fmt: skip
    for title, rows, line in sections:
        lines += ["", title]
        if not rows:
            lines.append("  (no data)")
        for r in rows:
            note = f"  [{r['note']}]" if r.get("note") else ""
            lines.append(f"  {line(r)}{note}")
    return "\n".join(lines) + "\n"
