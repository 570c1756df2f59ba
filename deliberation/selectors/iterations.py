"""Reads about a group's rounds and iterations that the state machine, presence, mediation and
the pages share."""

from django.db.models import QuerySet

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
