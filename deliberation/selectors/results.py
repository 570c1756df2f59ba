"""What happened in a group, iteration by iteration, for the moderator's results page."""

from dataclasses import dataclass, field
from itertools import combinations
from statistics import mean

from deliberation.models import (
    CandidateSet,
    Critique,
    Group,
    Iteration,
    Opinion,
    Participant,
    PositionRating,
    Rating,
    Statement,
)


@dataclass
class CandidateRow:
    index: int
    text: str
    score: float
    rank: int
    is_winner: bool
    bar_percent: int


@dataclass
class IterationResult:
    iteration: Iteration
    texts: list[dict] = field(default_factory=list)
    candidate_set: CandidateSet | None = None
    candidates: list[CandidateRow] = field(default_factory=list)
    heatmap: list[dict] = field(default_factory=list)
    ratings: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    comparisons: list[dict] = field(default_factory=list)


def heat_colour(value: float) -> str:
    """A diverging background for a 1-7 agreement: red below neutral, blue above."""
    t = max(-1.0, min(1.0, (value - 4.0) / 3.0))
    if t < 0:
        return f"rgba(190, 50, 40, {abs(t) * 0.7:.2f})"
    return f"rgba(31, 95, 191, {t * 0.7:.2f})"


def divisiveness(agreements: list[int]) -> float | None:
    """Mean absolute difference between the agreement of every pair of members (ours; the papers
    publish no formula). 0 means everyone rated the statement the same."""
    pairs = list(combinations(agreements, 2))
    return mean(abs(a - b) for a, b in pairs) if pairs else None


def group_results(group: Group) -> list[dict]:
    members = {m.pk: m for m in Participant.objects.filter(group=group).order_by("seat")}
    seat = {pk: m.seat for pk, m in members.items()}
    iterations = list(
        Iteration.objects.filter(round__group=group)
        .select_related(
            "round__question", "candidate_set__generator", "candidate_set__reward_model"
        )
        .order_by("round__position", "index")
    )
    statements = list(
        Statement.objects.filter(iteration__in=iterations, candidate_set__isnull=False).order_by(
            "iteration_id", "index"
        )
    )
    fields = ("pk", "iteration_id", "participant_id", "text", "hidden", "hidden_reason")
    texts = [
        {**t, "kind": "opinion"}
        for t in Opinion.objects.filter(iteration__in=iterations).values(*fields)
    ] + [
        {**t, "kind": "critique"}
        for t in Critique.objects.filter(iteration__in=iterations).values(*fields)
    ]
    ratings = list(
        Rating.objects.filter(iteration__in=iterations).values(
            "iteration_id", "participant_id", "statement_id", "agreement", "quality"
        )
    )

    compared = list(
        Statement.objects.filter(iteration__in=iterations, shown=True, candidate_set__isnull=True)
    )
    positions = list(
        PositionRating.objects.filter(round__group=group).values(
            "round_id", "participant_id", "index", "agreement"
        )
    )

    rounds: dict[int, dict] = {}
    for iteration in iterations:
        round_ = iteration.round
        entry = rounds.setdefault(
            round_.pk,
            {
                "round": round_,
                "question": round_.question,
                "iterations": [],
                "positions": _positions([p for p in positions if p["round_id"] == round_.pk], seat),
            },
        )
        result = IterationResult(iteration=iteration)
        result.texts = sorted(
            (
                {
                    "seat": seat.get(t["participant_id"]),
                    "text": t["text"],
                    "hidden": t["hidden"],
                    # For the moderator's hide and show forms.
                    "pk": t["pk"],
                    "kind": t["kind"],
                    "hidden_reason": t["hidden_reason"],
                }
                for t in texts
                if t["iteration_id"] == iteration.pk
            ),
            key=lambda t: (t["seat"] is None, t["seat"]),
        )
        candidate_set = getattr(iteration, "candidate_set", None)
        if candidate_set is not None:
            _fill_mediation(result, candidate_set, statements, seat, ratings)
        result.comparisons = [
            _observed(statement.get_role_display(), statement.pk, ratings)
            for statement in compared
            if statement.iteration_id == iteration.pk
        ]
        entry["iterations"].append(result)
    return list(rounds.values())


def _observed(label: str, statement_id: int, ratings: list[dict]) -> dict:
    observed = [r for r in ratings if r["statement_id"] == statement_id]
    agreements = [r["agreement"] for r in observed]
    return {
        "label": label,
        "count": len(observed),
        "mean_agreement": mean(agreements) if agreements else None,
        "mean_quality": mean(r["quality"] for r in observed) if observed else None,
    }


def _positions(rows: list[dict], seat: dict) -> dict | None:
    """Agreement with the position statement before and after the round, per member, with the
    spread (mean pairwise difference, as `divisiveness`) of each: [T24] found that positions
    moved closer together after deliberation. None when nobody rated the position."""
    if not rows:
        return None
    members: dict[int, dict] = {}
    for row in rows:
        key = "before" if row["index"] == 0 else "after"
        members.setdefault(row["participant_id"], {})[key] = row["agreement"]
    before = [m["before"] for m in members.values() if "before" in m]
    after = [m["after"] for m in members.values() if "after" in m]
    return {
        "members": sorted(
            (
                {
                    "seat": seat.get(pk),
                    "before": m.get("before"),
                    "after": m.get("after"),
                    # Positions on the 1-7 line, for the dot chart (percent from the left).
                    "before_x": round(100 * (m["before"] - 1) / 6) if "before" in m else None,
                    "after_x": round(100 * (m["after"] - 1) / 6) if "after" in m else None,
                }
                for pk, m in members.items()
            ),
            key=lambda m: (m["seat"] is None, m["seat"]),
        ),
        "mean_before": mean(before) if before else None,
        "mean_after": mean(after) if after else None,
        "spread_before": divisiveness(before),
        "spread_after": divisiveness(after),
    }


def _fill_mediation(result, candidate_set, statements, seat, ratings) -> None:
    result.candidate_set = candidate_set
    own = [s for s in statements if s.candidate_set_id == candidate_set.pk]
    scores = [float(x) for x in candidate_set.scores]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    welfare = candidate_set.aggregation == "welfare"
    for statement in sorted(own, key=lambda s: (s.rank is None, s.rank)):
        score = scores[statement.index]
        # Welfare scores are on the 1-7 scale; Schulze scores are counts, drawn against their range.
        share = (score - 1) / 6 if welfare else (score - low) / ((high - low) or 1)
        result.candidates.append(
            CandidateRow(
                index=statement.index,
                text=statement.text,
                score=score,
                rank=statement.rank if statement.rank is not None else statement.index,
                is_winner=statement.is_winner,
                bar_percent=round(100 * max(0.0, min(1.0, share))),
            )
        )
    for row, participant_id in zip(
        candidate_set.predictions, candidate_set.member_ids, strict=False
    ):
        result.heatmap.append(
            {
                "seat": seat.get(participant_id),
                "excluded": participant_id not in candidate_set.included_ids,
                "cells": [{"value": v, "colour": heat_colour(v)} for v in row],
            }
        )
    winner = next((s for s in own if s.is_winner), None)
    if winner is None:
        return
    observed = [r for r in ratings if r["statement_id"] == winner.pk]
    result.ratings = sorted(
        (
            {
                "seat": seat.get(r["participant_id"]),
                "agreement": r["agreement"],
                "quality": r["quality"],
            }
            for r in observed
        ),
        key=lambda r: (r["seat"] is None, r["seat"]),
    )
    agreements = [r["agreement"] for r in observed]
    result.metrics = {
        "winner_index": winner.index,
        "predicted_score": scores[winner.index] if scores else None,
        "mean_agreement": mean(agreements) if agreements else None,
        "min_agreement": min(agreements) if agreements else None,
        "mean_quality": mean(r["quality"] for r in observed) if observed else None,
        "divisiveness": divisiveness(agreements),
    }
    if candidate_set.included_ids != candidate_set.member_ids:
        # The exclusion condition: agreement of the members written from vs those left out.
        included = set(candidate_set.included_ids)
        inside = [r["agreement"] for r in observed if r["participant_id"] in included]
        outside = [r["agreement"] for r in observed if r["participant_id"] not in included]
        result.metrics["included_agreement"] = mean(inside) if inside else None
        result.metrics["excluded_agreement"] = mean(outside) if outside else None
