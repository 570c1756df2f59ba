"""Deadlines: a collecting or rating phase whose deadline has passed is closed with whoever is
done, after the silent non-answerers have dropped out."""

from django.utils import timezone

from deliberation.models import Iteration
from deliberation.services.presence import iteration_drop_absent
from deliberation.services.rounds import iteration_close_if_complete, iteration_finish_if_rated


def iteration_advance_if_overdue(*, iteration: Iteration, now=None) -> bool:
    """Close a collecting or rating phase whose deadline has passed; True when it moved on.

    The beat's sweep calls this for every overdue iteration; the status endpoint calls it for the
    participant's own, so that deadlines also hold where no beat runs (the embedded default).
    """
    now = now or timezone.now()
    if iteration.deadline is None or iteration.deadline >= now:
        return False
    iteration_drop_absent(iteration=iteration, now=now)  # the silent non-answerers drop out first
    if iteration.state == Iteration.State.COLLECTING:
        iteration_close_if_complete(iteration=iteration, force=True)
    elif iteration.state == Iteration.State.RATING:
        iteration_finish_if_rated(iteration=iteration, force=True)
    else:
        return False
    # Moved on: mediating, failed for lack of members, or done.
    return Iteration.objects.filter(pk=iteration.pk).exclude(state=iteration.state).exists()


def iterations_advance_overdue(*, now=None) -> int:
    """The deadline sweep: close collecting and rating phases whose deadline has passed."""
    now = now or timezone.now()
    overdue = Iteration.objects.filter(
        deadline__lt=now, state__in=[Iteration.State.COLLECTING, Iteration.State.RATING]
    )
    return sum(iteration_advance_if_overdue(iteration=iteration, now=now) for iteration in overdue)
