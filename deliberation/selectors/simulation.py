"""A group's whole record as plain data: `manage.py simulate --json` prints it, and later code
(reports, exports of a single group) can reuse it.

The shape, for one group (`group_report`)::

    {"id", "number", "condition": name | null, "status", "participants": [public id],
     "rounds": [
       {"id", "position", "question", "position_statement", "status",
        "excluded": [public id],
        "position_ratings": [{"participant", "before", "after"}],
        "iterations": [
          {"id", "index", "state", "failure_reason",
           "opinions": [{"participant", "text", "hidden"}],
           "critiques": [{"participant", "text", "hidden", "statement"}],
           "candidates": [{"id", "text", "provenance"}],
           "members": [public id], "included": [public id],
           "predictions": [[float]], "scores": [float], "winner": int | null,
           "shown": [{"id", "role", "text", "candidate",
                      "ratings": [{"participant", "agreement", "quality"}]}],
           "ratings": [{"participant", "statement", "statement_id", "role", "agreement",
                        "quality"}],
           "rankings": [{"participant", "statements": [id], "ranks": [int]}]}],
        "final_ranking": [{"participant", "statements": [id], "ranks": [int]}],
        "survey": [{"participant", "answers": {item key: answer}}]}]}

Participants are named by their public id everywhere; statements by their database id.

- `excluded` is present in every round: the members the exclusion condition left out of that
  round's mediation (`Round.excluded`), `[]` in groups of any other condition.
- `opinions` are what members wrote in iteration 0, `critiques` what they wrote in iterations
  1..k (each names the `statement` it critiques: the previous iteration's winner); the other
  list is empty.
- `members` gives the rows of `predictions` (members x candidates, 1-7) in the candidate set's
  order; `included` the members the mediation wrote from. `winner` indexes `candidates` and is
  null until a winner exists.
- `shown` lists the statements members rated, the winner first (`role` "candidate",
  `candidate` its index) then the comparisons of the group's condition (`role` "best_opinion"
  or "baseline", `candidate` null), each with every member's rating.
- `ratings` is the same ratings as one flat list (`statement` the candidate index, null for a
  comparison); `rankings` the rankings of the statements shown, as stored: `statements` in the
  order the member saw them, `ranks` 0 = best (ties share a rank).
- `final_ranking` is the preference between the round's winners, in the same form;
  `position_ratings` the agreement with `position_statement` before and after the round (null
  where not given); `survey` the end-of-round answers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from deliberation.models import (
    CandidateSet,
    Condition,
    Critique,
    Deliberation,
    Group,
    Iteration,
    Opinion,
    Participant,
    PositionRating,
    Ranking,
    Rating,
    Round,
    Statement,
    SurveyResponse,
)
from deliberation.selectors.participant import position_statement


def group_report(group: Group) -> dict[str, Any]:
    """Everything a group wrote, every candidate the mediator produced with its predictions and
    scores, every statement shown with its ratings, the rankings, position ratings and surveys,
    for all rounds and iterations present. A fixed number of queries, however many rounds."""
    rows = _GroupRows(group)
    return {
        "id": group.pk,
        "number": group.number,
        "condition": group.condition.name if group.condition_id else None,
        "status": group.status,
        "participants": [rows.public[m.pk] for m in rows.members],
        "rounds": [_round_report(round_, rows) for round_ in rows.rounds],
    }


def conditions_report(deliberation: Deliberation) -> list[dict[str, Any]]:
    """The deliberation's conditions as set up, each with the numbers of its groups."""
    numbers: dict[int, list[int]] = defaultdict(list)
    for condition_id, number in (
        Group.objects.filter(deliberation=deliberation, condition__isnull=False)
        .order_by("number")
        .values_list("condition_id", "number")
    ):
        numbers[condition_id].append(number)
    return [
        {
            "name": condition.name,
            "description": condition.description,
            "mediation_config": condition.mediation_config,
            "comparisons": condition.comparisons,
            "exclusion": condition.exclusion,
            "groups": numbers[condition.pk],
        }
        for condition in Condition.objects.filter(deliberation=deliberation).order_by("pk")
    ]


class _GroupRows:
    """Every row of a group the report needs, fetched once and indexed by iteration or round."""

    def __init__(self, group: Group):
        in_group = {"iteration__round__group": group}
        self.members = list(group.members.order_by("seat", "pk"))
        self.rounds = list(
            Round.objects.filter(group=group)
            .select_related("question", "group__deliberation")
            .prefetch_related("excluded")
            .order_by("position")
        )
        self.iterations = _by(
            Iteration.objects.filter(round__group=group).order_by("index"), "round_id"
        )
        self.candidate_sets = {
            cs.iteration_id: cs for cs in CandidateSet.objects.filter(**in_group)
        }
        self.statements = _by(
            Statement.objects.filter(**in_group).order_by("index", "pk"), "iteration_id"
        )
        by_seat = ("participant__seat", "participant_id", "pk")
        self.opinions = _by(Opinion.objects.filter(**in_group).order_by(*by_seat), "iteration_id")
        self.critiques = _by(Critique.objects.filter(**in_group).order_by(*by_seat), "iteration_id")
        self.ratings = _by(Rating.objects.filter(**in_group).order_by(*by_seat), "iteration_id")
        rankings = list(Ranking.objects.filter(round__group=group).order_by(*by_seat))
        self.rankings = _by(
            [r for r in rankings if r.kind == Ranking.Kind.STATEMENTS], "iteration_id"
        )
        self.final_rankings = _by([r for r in rankings if r.kind == Ranking.Kind.FINAL], "round_id")
        self.position_ratings = _by(
            PositionRating.objects.filter(round__group=group).order_by(*by_seat, "index"),
            "round_id",
        )
        self.surveys = _by(
            SurveyResponse.objects.filter(round__group=group).order_by(*by_seat), "round_id"
        )
        self.public = {m.pk: str(m.public_id) for m in self.members}
        # Members who have since left the group are still in the record under their own id.
        seen = {
            row.participant_id
            for rows in (
                self.opinions,
                self.critiques,
                self.ratings,
                self.rankings,
                self.final_rankings,
                self.position_ratings,
                self.surveys,
            )
            for group_rows in rows.values()
            for row in group_rows
        }
        seen |= {pk for cs in self.candidate_sets.values() for pk in cs.member_ids}
        seen |= {p.pk for round_ in self.rounds for p in round_.excluded.all()}
        missing = seen - set(self.public)
        if missing:
            self.public.update(
                (pk, str(public_id))
                for pk, public_id in Participant.objects.filter(pk__in=missing).values_list(
                    "pk", "public_id"
                )
            )

    def ids(self, pks) -> list[str]:
        return [self.public[pk] for pk in pks]


def _by(rows, key: str) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _round_report(round_: Round, rows: _GroupRows) -> dict[str, Any]:
    positions: dict[int, dict[str, Any]] = {}
    for rating in rows.position_ratings[round_.pk]:
        entry = positions.setdefault(
            rating.participant_id,
            {"participant": rows.public[rating.participant_id], "before": None, "after": None},
        )
        entry["before" if rating.index == 0 else "after"] = rating.agreement
    answers: dict[int, dict[str, Any]] = {}
    for response in rows.surveys[round_.pk]:
        answers.setdefault(response.participant_id, {})[response.item] = response.value
    return {
        "id": round_.pk,
        "position": round_.position,
        "question": round_.question.text,
        "position_statement": position_statement(round_),
        "status": round_.status,
        "excluded": sorted(rows.ids(p.pk for p in round_.excluded.all())),
        "position_ratings": list(positions.values()),
        "iterations": [_iteration_report(it, rows) for it in rows.iterations[round_.pk]],
        "final_ranking": [_ranking(r, rows) for r in rows.final_rankings[round_.pk]],
        "survey": [
            {"participant": rows.public[pk], "answers": items} for pk, items in answers.items()
        ],
    }


def _ranking(ranking: Ranking, rows: _GroupRows) -> dict[str, Any]:
    return {
        "participant": rows.public[ranking.participant_id],
        "statements": ranking.statement_ids,
        "ranks": ranking.numerical_ranks,
    }


def _iteration_report(iteration: Iteration, rows: _GroupRows) -> dict[str, Any]:
    candidate_set = rows.candidate_sets.get(iteration.pk)
    statements = rows.statements[iteration.pk]
    candidates = [s for s in statements if s.candidate_set_id is not None]
    index_of = {s.pk: s.index for s in candidates}
    role_of = {s.pk: s.role for s in statements}
    winner = next((s.index for s in candidates if s.is_winner), None)
    # The winner first, then the comparisons in the order they were stored.
    shown = sorted((s for s in statements if s.shown), key=lambda s: (not s.is_winner, s.pk))
    ratings = rows.ratings[iteration.pk]
    ratings_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rating in ratings:
        ratings_of[rating.statement_id].append(
            {
                "participant": rows.public[rating.participant_id],
                "agreement": rating.agreement,
                "quality": rating.quality,
            }
        )
    return {
        "id": iteration.pk,
        "index": iteration.index,
        "state": iteration.state,
        "failure_reason": iteration.failure_reason,
        "opinions": [
            {"participant": rows.public[o.participant_id], "text": o.text, "hidden": o.hidden}
            for o in rows.opinions[iteration.pk]
        ],
        "critiques": [
            {
                "participant": rows.public[c.participant_id],
                "text": c.text,
                "hidden": c.hidden,
                "statement": c.statement_id,
            }
            for c in rows.critiques[iteration.pk]
        ],
        "candidates": [{"id": s.pk, "text": s.text, "provenance": s.metadata} for s in candidates],
        "members": rows.ids(candidate_set.member_ids) if candidate_set else [],
        "included": rows.ids(candidate_set.included_ids) if candidate_set else [],
        "predictions": candidate_set.predictions if candidate_set else [],
        "scores": candidate_set.scores if candidate_set else [],
        "winner": winner,
        "shown": [
            {
                "id": s.pk,
                "role": s.role,
                "text": s.text,
                "candidate": index_of.get(s.pk),
                "ratings": ratings_of[s.pk],
            }
            for s in shown
        ],
        "ratings": [
            {
                "participant": rows.public[r.participant_id],
                "statement": index_of.get(r.statement_id),
                "statement_id": r.statement_id,
                "role": role_of.get(r.statement_id),
                "agreement": r.agreement,
                "quality": r.quality,
            }
            for r in ratings
        ],
        "rankings": [_ranking(r, rows) for r in rows.rankings[iteration.pk]],
    }
