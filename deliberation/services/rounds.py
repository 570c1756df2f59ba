"""How a group moves through rounds and iterations.

An iteration's state machine: collecting -> mediating -> rating -> done, or failed (with the
reason) when mediation could not produce a statement; a group's rounds one after another; and a
member completed once their group has finished and they owe nothing more. Every transition is a
conditional update or runs under a row lock, so that web processes, workers and the deadline sweep
can race harmlessly. What members send lives in `texts`, `ratings` and `responses`, which call in
here; deadlines in `deadlines`.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from deliberation.errors import DomainError
from deliberation.models import (
    DeliberationQuestion,
    Group,
    Iteration,
    Participant,
    Round,
)
from deliberation.selectors.iterations import members_done, present_members, written_count
from deliberation.selectors.participant import followups_pending
from deliberation.services.conditions import round_exclusion_choose
from deliberation.services.enqueue import bots_enqueue, mediation_enqueue
from deliberation.services.versions import member_views_changed
from deliberation.storable import storable_text

FAILURE_REASON_MAX = 2000


@transaction.atomic
def group_start(*, group: Group) -> Group:
    group = Group.objects.select_for_update().get(pk=group.pk)
    if group.status != Group.Status.FORMING:
        return group
    group.status = Group.Status.ACTIVE
    group.started_at = timezone.now()
    group.save(update_fields=["status", "started_at"])
    group.members.filter(status=Participant.Status.WAITING).update(status=Participant.Status.ACTIVE)
    round_start(group=group, position=0)
    member_views_changed(group_ids=[group.pk])
    return group


def round_start(*, group: Group, position: int) -> Round:
    link = (
        DeliberationQuestion.objects.filter(
            deliberation_id=group.deliberation_id, position=position
        )
        .select_related("question")
        .first()
    )
    if link is None:
        raise DomainError(f"The deliberation has no question at position {position}.")
    round_, _ = Round.objects.get_or_create(
        group=group,
        position=position,
        defaults={
            "question": link.question,
            "status": Round.Status.ACTIVE,
            "started_at": timezone.now(),
        },
    )
    round_exclusion_choose(round_=round_)  # exclusion condition: who this round leaves out
    iteration_start(round_=round_, index=0)
    return round_


def iteration_start(*, round_: Round, index: int) -> Iteration:
    deliberation = round_.group.deliberation
    seconds = deliberation.opinion_seconds if index == 0 else deliberation.critique_seconds
    iteration, created = Iteration.objects.get_or_create(
        round=round_,
        index=index,
        defaults={
            "state": Iteration.State.COLLECTING,
            "deadline": timezone.now() + timedelta(seconds=seconds),
        },
    )
    if created:
        bots_enqueue(group=round_.group)
    return iteration


def iteration_close_if_complete(*, iteration: Iteration, force: bool = False) -> bool:
    """Move a collecting iteration to mediating when every present member has written.

    With `force` (the deadline passed), close it when at least the deliberation's minimum group
    size has written; with fewer, the iteration fails with that reason. Returns True when this
    call started the mediation. The mediation task is enqueued only after the commit.
    """
    with transaction.atomic():
        iteration = (
            Iteration.objects.select_for_update()
            .select_related("round__group")
            .get(pk=iteration.pk)
        )
        if iteration.state != Iteration.State.COLLECTING:
            return False
        group = iteration.round.group
        if group.status == Group.Status.ENDED:
            return False  # ended by a moderator (services.moderation.group_end)
        deliberation = group.deliberation
        present = present_members(group).count()
        written = written_count(iteration)
        if written < present and not force:
            return False
        if written < deliberation.min_group_size:
            if force:
                iteration_fail(
                    iteration=iteration,
                    reason=(
                        f"Only {written} member(s) wrote before the deadline; "
                        f"the deliberation needs at least {deliberation.min_group_size}."
                    ),
                )
            return False
        iteration.state = Iteration.State.MEDIATING
        iteration.mediation_queued_at = timezone.now()
        iteration.mediation_lease_until = None
        iteration.save(
            update_fields=["state", "mediation_queued_at", "mediation_lease_until", "updated_at"]
        )
        mediation_enqueue(iteration_id=iteration.pk)
        member_views_changed(group_ids=[group.pk])
        return True


def iteration_fail(*, iteration: Iteration, reason: str) -> None:
    """A visible failed state with the reason (made storable: a model's junk in an error message
    must not stop the failure being recorded); nothing already written is touched."""
    failed = (
        Iteration.objects.filter(pk=iteration.pk)
        .exclude(state=Iteration.State.DONE)
        .update(
            state=Iteration.State.FAILED,
            failure_reason=storable_text(reason, limit=FAILURE_REASON_MAX),
            mediation_finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )
    if failed:
        member_views_changed(group_ids=[iteration.round.group_id])


def iteration_finish_if_rated(*, iteration: Iteration, force: bool = False) -> bool:
    """Close the rating phase when every present member has rated every statement shown and,
    when several were shown, ranked them (or, with `force`, when its deadline has passed), then
    move the group on."""
    with transaction.atomic():
        iteration = (
            Iteration.objects.select_for_update()
            .select_related("round__group")
            .get(pk=iteration.pk)
        )
        if iteration.state != Iteration.State.RATING:
            return False
        group = iteration.round.group
        members = list(present_members(group).values_list("pk", flat=True))
        if not force and len(members_done(iteration, members)) < len(members):
            return False
        iteration.state = Iteration.State.DONE
        iteration.save(update_fields=["state", "updated_at"])
        _advance(iteration)
        member_views_changed(group_ids=[group.pk])
        return True


def _advance(iteration: Iteration) -> None:
    round_ = iteration.round
    group = round_.group
    if group.status == Group.Status.ENDED:
        return  # ended by a moderator (services.moderation.group_end): nothing starts
    deliberation = group.deliberation
    if iteration.index < deliberation.critique_iterations:
        iteration_start(round_=round_, index=iteration.index + 1)
        return
    now = timezone.now()
    Round.objects.filter(pk=round_.pk).update(status=Round.Status.DONE, ended_at=now)
    has_next = DeliberationQuestion.objects.filter(
        deliberation=deliberation, position=round_.position + 1
    ).exists()
    if has_next:
        round_start(group=group, position=round_.position + 1)
        return
    Group.objects.filter(pk=group.pk).update(status=Group.Status.DONE, ended_at=now)
    # Members are completed once they have also answered the end-of-round questions they owe.
    for member in present_members(group):
        participant_complete_if_done(participant=member)
    bots_enqueue(group=group)


def participant_complete_if_done(*, participant: Participant) -> bool:
    """Mark a member completed once their group has finished (or was ended) and every step the
    member owes is saved: the end-of-round questions of every finished round. Only then is a panel
    member sent to the completion URL with its code."""
    participant = Participant.objects.select_related("group").get(pk=participant.pk)
    group = participant.group
    if participant.status != Participant.Status.ACTIVE or group is None:
        return False
    if group.status not in (Group.Status.DONE, Group.Status.ENDED):
        return False
    if group.status == Group.Status.DONE and followups_pending(participant):
        return False
    updated = Participant.objects.filter(
        pk=participant.pk, status=Participant.Status.ACTIVE
    ).update(status=Participant.Status.COMPLETED, completed_at=timezone.now())
    if updated:
        member_views_changed(participant_ids=[participant.pk])
    return updated == 1
