"""A group's whole record as plain data: `manage.py simulate --json` prints it, and later code
(reports, exports of a single group) can reuse it.

The shape, for one group::

    {"id", "number", "condition", "participants": [public id],
     "rounds": [{"position", "question", "opinions": [text],
                 "iterations": [{"index", "state", "failure_reason",
                                 "candidates": [{"text", "provenance"}],
                                 "members": [public id],
                                 "predictions": [[float]], "scores": [float], "winner": int,
                                 "critiques": [text],
                                 "ratings": [{"participant", "statement", "agreement",
                                              "quality"}]}]}]}

`members` gives the rows of `predictions` (members x candidates, 1-7) in the candidate set's
order; `winner` indexes `candidates` and is null until a winner exists; a rating's `statement`
is the rated statement's index among `candidates` (null for a statement that is not a
candidate, such as a comparison).
"""

from __future__ import annotations

from typing import Any

from deliberation.models import (
    CandidateSet,
    Critique,
    Group,
    Iteration,
    Opinion,
    Participant,
    Rating,
    Round,
    Statement,
)


def group_report(group: Group) -> dict[str, Any]:
    """Everything a group wrote, every candidate the mediator produced with its predictions and
    scores, and every rating, for all rounds and iterations present."""
    members = list(group.members.order_by("seat", "pk"))
    public = {m.pk: str(m.public_id) for m in members}
    rounds = Round.objects.filter(group=group).select_related("question").order_by("position")
    return {
        "id": group.pk,
        "number": group.number,
        "condition": group.condition.name if group.condition_id else None,
        "participants": [public[m.pk] for m in members],
        "rounds": [_round_report(round_, public) for round_ in rounds],
    }


def _public_ids(ids, public: dict[int, str]) -> list[str]:
    missing = [pk for pk in ids if pk not in public]
    if missing:
        # Members who have since left the group are still in the record under their own id.
        public.update(
            {
                pk: str(public_id)
                for pk, public_id in Participant.objects.filter(pk__in=missing).values_list(
                    "pk", "public_id"
                )
            }
        )
    return [public[pk] for pk in ids]


def _round_report(round_: Round, public: dict[int, str]) -> dict[str, Any]:
    iterations = list(Iteration.objects.filter(round=round_).order_by("index"))
    opinion_iteration = next((it for it in iterations if it.index == 0), None)
    opinions = (
        Opinion.objects.filter(iteration=opinion_iteration).order_by("participant__seat", "pk")
        if opinion_iteration is not None
        else Opinion.objects.none()
    )
    return {
        "id": round_.pk,
        "position": round_.position,
        "question": round_.question.text,
        "opinions": [o.text for o in opinions],
        "iterations": [_iteration_report(it, public) for it in iterations],
    }


def _iteration_report(iteration: Iteration, public: dict[int, str]) -> dict[str, Any]:
    candidate_set = CandidateSet.objects.filter(iteration=iteration).first()
    candidates = list(
        Statement.objects.filter(iteration=iteration, candidate_set__isnull=False).order_by("index")
    )
    index_of = {s.pk: s.index for s in candidates}
    winner = next((s.index for s in candidates if s.is_winner), None)
    ratings = Rating.objects.filter(iteration=iteration).order_by("participant__seat", "pk")
    critiques = Critique.objects.filter(iteration=iteration).order_by("participant__seat", "pk")
    return {
        "id": iteration.pk,
        "index": iteration.index,
        "state": iteration.state,
        "failure_reason": iteration.failure_reason,
        "candidates": [{"text": s.text, "provenance": s.metadata} for s in candidates],
        "members": _public_ids(candidate_set.member_ids, public) if candidate_set else [],
        "predictions": candidate_set.predictions if candidate_set else [],
        "scores": candidate_set.scores if candidate_set else [],
        "winner": winner,
        "critiques": [c.text for c in critiques],
        "ratings": [
            {
                "participant": _public_ids([r.participant_id], public)[0],
                "statement": index_of.get(r.statement_id),
                "agreement": r.agreement,
                "quality": r.quality,
            }
            for r in ratings
        ],
    }
