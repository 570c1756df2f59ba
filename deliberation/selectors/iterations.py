"""Reads about a group's rounds and iterations that the state machine, presence, mediation and
the pages share."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from deliberation.models import (
    Critique,
    Group,
    Iteration,
    Opinion,
    Participant,
    Ranking,
    Rating,
    Statement,
)


def present_members(group: Group) -> QuerySet[Participant]:
    """Members still taking part: not dropped, not released."""
    return group.members.filter(status=Participant.Status.ACTIVE)


def shown_statements(iteration: Iteration) -> QuerySet[Statement]:
    """The statements the iteration shows its members to rate."""
    return Statement.objects.filter(iteration=iteration, shown=True)


def previous_winner(iteration: Iteration) -> Statement | None:
    """The winner of the iteration before this one in its round (None for the opinion one)."""
    if iteration.index == 0:
        return None
    return Statement.objects.filter(
        iteration__round_id=iteration.round_id, iteration__index=iteration.index - 1, is_winner=True
    ).first()


def written_count(iteration: Iteration) -> int:
    """How many present members have written what a collecting iteration asks."""
    model = Critique if iteration.is_critique else Opinion
    return model.objects.filter(
        iteration=iteration, participant__status=Participant.Status.ACTIVE
    ).count()


def with_shown_count(iterations: QuerySet[Iteration]) -> QuerySet[Iteration]:
    """`iterations` annotated with `shown_count`, which `members_done_by_iteration` then uses
    instead of counting the statements shown itself."""
    return iterations.annotate(shown_count=Count("statements", filter=Q(statements__shown=True)))


def members_done_by_iteration(iterations: Sequence[Iteration]) -> dict[int, set[int]]:
    """Who has finished what each iteration's phase asks: the one definition of "done" by which
    the group moves on, absent members are dropped, and the member's page and the moderators'
    overview count progress.

    - collecting: written the opinion (or, in a critique iteration, the critique) it asks;
    - rating: rated every statement shown and, when more than one was shown, ranked them.

    Keys: the given iterations that are collecting or rating (the other states ask nothing of
    anybody). At most four queries however many iterations are given; three when they carry
    `shown_count` (`with_shown_count`).
    """
    collecting = [i for i in iterations if i.state == Iteration.State.COLLECTING]
    rating = [i for i in iterations if i.state == Iteration.State.RATING]
    done: dict[int, set[int]] = {i.pk: set() for i in collecting + rating}
    for model, is_critique in ((Opinion, False), (Critique, True)):
        ids = [i.pk for i in collecting if i.is_critique == is_critique]
        if not ids:
            continue
        for iteration_id, participant_id in model.objects.filter(iteration_id__in=ids).values_list(
            "iteration_id", "participant_id"
        ):
            done[iteration_id].add(participant_id)
    if not rating:
        return done
    shown = _shown_counts(rating)
    for row in (
        Rating.objects.filter(iteration_id__in=list(shown))
        .values("iteration_id", "participant_id")
        .annotate(n=Count("pk"))
    ):
        if row["n"] >= shown[row["iteration_id"]]:
            done[row["iteration_id"]].add(row["participant_id"])
    several = [pk for pk, n in shown.items() if n > 1]
    if several:
        ranked = set(
            Ranking.objects.filter(
                iteration_id__in=several, kind=Ranking.Kind.STATEMENTS
            ).values_list("iteration_id", "participant_id")
        )
        for pk in several:
            done[pk] = {m for m in done[pk] if (pk, m) in ranked}
    return done


def _shown_counts(iterations: Sequence[Iteration]) -> dict[int, int]:
    counts = {i.pk: i.shown_count for i in iterations if hasattr(i, "shown_count")}
    missing = [i.pk for i in iterations if i.pk not in counts]
    if missing:
        counts.update(dict.fromkeys(missing, 0))
        counts.update(
            Statement.objects.filter(iteration_id__in=missing, shown=True)
            .values("iteration_id")
            .annotate(n=Count("pk"))
            .values_list("iteration_id", "n")
        )
    return counts


def members_done(iteration: Iteration, member_ids: Iterable[int]) -> set[int]:
    """Which of `member_ids` have finished what the iteration's phase asks, as
    `members_done_by_iteration` defines it (nobody, in a phase that asks nothing)."""
    return members_done_by_iteration([iteration]).get(iteration.pk, set()) & set(member_ids)


class MediationStanding:
    """Where a `mediating` iteration's mediation stands (`mediation_standing`)."""

    QUEUED = "queued"  # sent to the queue, not taken by a worker yet, within the grace time
    UNCLAIMED = "unclaimed"  # sent, and no worker has taken it for longer than the grace time
    RUNNING = "running"  # a worker holds it, and renews its lease
    STUCK = "stuck"  # a worker took it and its lease lapsed: that worker is gone


def mediation_standing(iteration: Iteration, now: datetime | None = None) -> str | None:
    """`MediationStanding` of a `mediating` iteration (None in any other state)."""
    if iteration.state != Iteration.State.MEDIATING:
        return None
    now = now or timezone.now()
    if iteration.mediation_lease_until is not None:
        if iteration.mediation_lease_until >= now:
            return MediationStanding.RUNNING
        return MediationStanding.STUCK
    queued_at = iteration.mediation_queued_at or iteration.updated_at
    grace = timedelta(seconds=settings.MEDIATION_QUEUE_GRACE_SECONDS)
    if queued_at is not None and queued_at < now - grace:
        return MediationStanding.UNCLAIMED
    return MediationStanding.QUEUED


def mediations_to_recover(now: datetime | None = None) -> QuerySet[Iteration]:
    """Iterations whose mediation is stuck (lease lapsed) or unclaimed (queued past the grace
    time, or never sent): what the recovery sweep sends again."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.MEDIATION_QUEUE_GRACE_SECONDS)
    return Iteration.objects.filter(
        state=Iteration.State.MEDIATING, candidate_set__isnull=True
    ).filter(
        Q(mediation_lease_until__lt=now)
        | Q(mediation_lease_until__isnull=True, mediation_queued_at__lt=grace)
        | Q(
            mediation_lease_until__isnull=True,
            mediation_queued_at__isnull=True,
            updated_at__lt=grace,
        )
    )
