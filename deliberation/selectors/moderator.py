"""What a moderator reads: the list of deliberations and where every group stands.

Both reads take a constant number of queries, however many groups or deliberations there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse

from deliberation.models import (
    Critique,
    Deliberation,
    Group,
    Iteration,
    Opinion,
    Participant,
    Rating,
    Round,
)

ABSENT = (Participant.Status.DROPPED, Participant.Status.RELEASED)


@dataclass(frozen=True)
class GroupOverview:
    """One group's row on the moderator's page.

    `round_position`, `question`, `iteration_index` and `state` are None before the group's
    first round starts. `done_count` is how many members have finished the current phase:
    written their opinion or critique while collecting, rated while rating.
    """

    number: int
    status: str
    status_label: str
    condition: str
    member_count: int
    present_count: int
    round_position: int | None
    round_count: int
    question: str | None
    iteration_index: int | None
    state: str | None
    state_label: str | None
    failure_reason: str
    deadline: datetime | None
    written_count: int
    rated_count: int

    @property
    def done_count(self) -> int:
        if self.state == Iteration.State.RATING:
            return self.rated_count
        return self.written_count

    @property
    def phase(self) -> str:
        if self.iteration_index is None:
            return ""
        return "critique" if self.iteration_index > 0 else "opinion"


def join_path(deliberation: Deliberation) -> str:
    """The path of the participants' invitation link."""
    try:
        return reverse("deliberation:join", args=[deliberation.public_id])
    except NoReverseMatch:
        # The participant pages define the route; until they do, its documented shape.
        return f"/j/{deliberation.public_id}/"


def deliberation_list() -> QuerySet[Deliberation]:
    """Every deliberation, newest first, with its group and participant counts."""
    groups = Group.objects.filter(deliberation=OuterRef("pk")).values("deliberation")
    participants = Participant.objects.filter(deliberation=OuterRef("pk")).values("deliberation")
    return Deliberation.objects.annotate(
        group_count=_count_of(groups),
        participant_count=_count_of(participants),
    ).order_by("-created_at", "-id")


def deliberation_questions(deliberation: Deliberation) -> list[str]:
    """The texts of the deliberation's questions, in the order groups get them."""
    return list(
        deliberation.question_links.order_by("position").values_list("question__text", flat=True)
    )


def deliberation_overview(deliberation: Deliberation) -> list[GroupOverview]:
    """Where each group of `deliberation` stands, by group number. Three queries in all."""
    groups = list(
        Group.objects.filter(deliberation=deliberation)
        .select_related("condition")
        .annotate(
            member_count=Count("members"),
            present_count=Count("members", filter=~Q(members__status__in=ABSENT)),
        )
        .order_by("number")
    )
    rounds_by_group: dict[int, list[Round]] = {}
    for round_ in (
        Round.objects.filter(group__deliberation=deliberation)
        .select_related("question")
        .order_by("group_id", "position")
    ):
        rounds_by_group.setdefault(round_.group_id, []).append(round_)
    current = {group_id: _current_round(rounds) for group_id, rounds in rounds_by_group.items()}

    latest_iteration: dict[int, Iteration] = {}
    iterations = (
        Iteration.objects.filter(round_id__in=[r.pk for r in current.values()])
        .annotate(
            opinion_count=_count_of(
                Opinion.objects.filter(iteration=OuterRef("pk")).values("iteration"),
                "participant",
            ),
            critique_count=_count_of(
                Critique.objects.filter(iteration=OuterRef("pk")).values("iteration"),
                "participant",
            ),
            rater_count=_count_of(
                Rating.objects.filter(iteration=OuterRef("pk")).values("iteration"),
                "participant",
            ),
        )
        .order_by("round_id", "index")
    )
    for iteration in iterations:
        latest_iteration[iteration.round_id] = iteration

    rows = []
    for group in groups:
        round_ = current.get(group.pk)
        iteration = latest_iteration.get(round_.pk) if round_ else None
        written = 0
        if iteration is not None:
            written = iteration.critique_count if iteration.is_critique else iteration.opinion_count
        rows.append(
            GroupOverview(
                number=group.number,
                status=group.status,
                status_label=group.get_status_display(),
                condition=group.condition.name if group.condition else "",
                member_count=group.member_count,
                present_count=group.present_count,
                round_position=round_.position if round_ else None,
                round_count=len(rounds_by_group.get(group.pk, [])),
                question=round_.question.text if round_ else None,
                iteration_index=iteration.index if iteration else None,
                state=iteration.state if iteration else None,
                state_label=iteration.get_state_display() if iteration else None,
                failure_reason=iteration.failure_reason if iteration else "",
                deadline=iteration.deadline if iteration else None,
                written_count=written,
                rated_count=iteration.rater_count if iteration else 0,
            )
        )
    return rows


def _current_round(rounds: list[Round]) -> Round:
    """The active round; else the last finished one; else the first still to come."""
    for round_ in rounds:
        if round_.status == Round.Status.ACTIVE:
            return round_
    done = [r for r in rounds if r.status == Round.Status.DONE]
    return done[-1] if done else rounds[0]


def _count_of(queryset: QuerySet, field: str = "pk") -> Coalesce:
    """A correlated COUNT(DISTINCT field) of `queryset`, already `.values()`-grouped; 0 if none."""
    return Coalesce(
        Subquery(
            queryset.order_by().annotate(n=Count(field, distinct=True)).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )
