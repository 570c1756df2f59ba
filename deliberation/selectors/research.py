"""What the API reads, within the deliberations a user may read (`access.research_deliberations`).

Each function takes that queryset and the filters already checked for shape, and returns a
QuerySet whose rows serialise without further queries per row.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import Count, Prefetch, QuerySet

from deliberation.models import (
    Deliberation,
    DeliberationQuestion,
    ExportJob,
    Group,
    Iteration,
    Prediction,
    Provenance,
    Ranking,
    Rating,
    Round,
    Statement,
)


def deliberations_for_api(readable: QuerySet[Deliberation]) -> QuerySet[Deliberation]:
    return (
        readable.select_related("created_by")
        .prefetch_related(
            "conditions",
            Prefetch(
                "question_links",
                queryset=DeliberationQuestion.objects.select_related("question").order_by(
                    "position"
                ),
            ),
        )
        .order_by("-created_at", "-id")
    )


def _in_study(
    queryset: QuerySet, group_path: str, *, deliberation: UUID | None, condition: str
) -> QuerySet:
    """`queryset` narrowed to one deliberation and one condition, reached through the group at
    `group_path` ("" when the rows are groups)."""
    prefix = f"{group_path}__" if group_path else ""
    if deliberation:
        queryset = queryset.filter(**{f"{prefix}deliberation__public_id": deliberation})
    if condition:
        queryset = queryset.filter(**{f"{prefix}condition__name": condition})
    return queryset


def groups_for_api(
    readable: QuerySet[Deliberation], *, deliberation: UUID | None = None, condition: str = ""
) -> QuerySet[Group]:
    groups = (
        Group.objects.filter(deliberation__in=readable)
        .select_related("deliberation", "condition")
        .annotate(member_count=Count("members"))
        .order_by("id")
    )
    return _in_study(groups, "", deliberation=deliberation, condition=condition)


def rounds_for_api(
    readable: QuerySet[Deliberation],
    *,
    deliberation: UUID | None = None,
    condition: str = "",
    group: int | None = None,
) -> QuerySet[Round]:
    rounds = (
        Round.objects.filter(group__deliberation__in=readable)
        .select_related("group__deliberation", "group__condition", "question")
        .order_by("id")
    )
    rounds = _in_study(rounds, "group", deliberation=deliberation, condition=condition)
    if group is not None:
        rounds = rounds.filter(group_id=group)
    return rounds


def iterations_for_api(
    readable: QuerySet[Deliberation],
    *,
    deliberation: UUID | None = None,
    condition: str = "",
    round: int | None = None,
) -> QuerySet[Iteration]:
    iterations = (
        Iteration.objects.filter(round__group__deliberation__in=readable)
        .select_related("round__group__deliberation", "round__group__condition")
        .order_by("id")
    )
    iterations = _in_study(
        iterations, "round__group", deliberation=deliberation, condition=condition
    )
    if round is not None:
        iterations = iterations.filter(round_id=round)
    return iterations


def iteration_detail_for_api(readable: QuerySet[Deliberation]) -> QuerySet[Iteration]:
    """Iterations with their statements, each statement's model and predictions."""
    statements = Statement.objects.select_related("model_version").prefetch_related(
        Prefetch(
            "predictions",
            queryset=Prediction.objects.select_related("participant").order_by("participant_id"),
        )
    )
    return (
        iterations_for_api(readable)
        .select_related("candidate_set")
        .prefetch_related(Prefetch("statements", queryset=statements))
    )


def _responses(
    queryset: QuerySet,
    *,
    deliberation: UUID | None,
    condition: str,
    iteration: int | None,
    since: datetime | None,
    until: datetime | None,
    include_bots: bool,
    group_path: str,
) -> QuerySet:
    queryset = _in_study(queryset, group_path, deliberation=deliberation, condition=condition)
    if iteration is not None:
        queryset = queryset.filter(iteration_id=iteration)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    if not include_bots:
        queryset = queryset.exclude(participant__provenance=Provenance.BOT_CITIZEN)
    return queryset


def ratings_for_api(readable: QuerySet[Deliberation], **filters) -> QuerySet[Rating]:
    """Ratings in readable deliberations; bots only with `include_bots`. Filters: deliberation
    (public id), condition (name), iteration (id), since/until (created_at, until exclusive)."""
    ratings = Rating.objects.filter(
        iteration__round__group__deliberation__in=readable
    ).select_related(
        "participant",
        "iteration__round__group__deliberation",
        "iteration__round__group__condition",
    )
    return _responses(ratings, group_path="iteration__round__group", **filters)


def rankings_for_api(readable: QuerySet[Deliberation], **filters) -> QuerySet[Ranking]:
    """Rankings in readable deliberations, with the same filters as `ratings_for_api`."""
    rankings = Ranking.objects.filter(round__group__deliberation__in=readable).select_related(
        "participant", "round__group__deliberation", "round__group__condition"
    )
    return _responses(rankings, group_path="round__group", **filters)


def export_jobs_started_by(user, deliberations) -> QuerySet[ExportJob]:
    """The exports `user` started of `deliberations` (a QuerySet or a list), newest first, with
    their deliberation: the Data page's list and the API's."""
    return (
        ExportJob.objects.filter(created_by=user, deliberation__in=deliberations)
        .select_related("deliberation")
        .order_by("-created_at", "-id")
    )
