"""Reads about a group's rounds and iterations that the state machine, presence, mediation and
the pages share."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from deliberation.models import Critique, Group, Iteration, Opinion, Participant, Statement


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
