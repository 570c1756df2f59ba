"""How a group moves through rounds and iterations.

An iteration's state machine: collecting -> mediating -> rating -> done, or failed (with the
reason) when mediation could not produce a statement. Every transition is a conditional update or
runs under a row lock, so that web processes, workers and the deadline sweep can race harmlessly.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation.errors import DomainError, NotAllowed, WrongPhase
from deliberation.models import (
    TEXT_MAX,
    Critique,
    DeliberationQuestion,
    Group,
    Iteration,
    Opinion,
    Participant,
    Round,
    Statement,
)
from deliberation.selectors.participant import members_done_rating
from deliberation.services.conditions import round_exclusion_choose
from deliberation.storable import storable_text

FAILURE_REASON_MAX = 2000


def _enqueue_mediation(iteration_id: int) -> None:
    from deliberation import tasks

    # robust: a broker that is down must not turn a stored answer into an error page; the
    # recovery sweep sends the mediation again.
    transaction.on_commit(lambda: tasks.mediate_iteration.delay(iteration_id), robust=True)


def _enqueue_bots(group: Group) -> None:
    if not group.members.filter(provenance="bot_citizen").exists():
        return
    from deliberation import tasks

    group_id = group.pk
    transaction.on_commit(lambda: tasks.bots_act.delay(group_id), robust=True)


def present_members(group: Group):
    """Members still taking part: not dropped, not released."""
    return group.members.filter(status=Participant.Status.ACTIVE)


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
        _enqueue_bots(round_.group)
    return iteration


def clean_text(text, *, what: str) -> str:
    """Trim and check a participant's text: 1 to 2,000 characters."""
    if not isinstance(text, str):
        raise DomainError(f"Your {what} must be text.", code=f"{what}_invalid")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise DomainError(f"Please write your {what} before sending it.", code=f"{what}_empty")
    if len(text) > TEXT_MAX:
        raise DomainError(
            f"Your {what} is {len(text):,} characters long; please keep it to {TEXT_MAX:,}.",
            code=f"{what}_too_long",
        )
    if "\x00" in text:
        raise DomainError(
            f"Your {what} contains a character that cannot be stored.", code=f"{what}_invalid"
        )
    return text


def _check_member_can_write(participant: Participant, iteration: Iteration) -> None:
    if participant.group_id is None or participant.group_id != iteration.round.group_id:
        raise NotAllowed("This is not your group's discussion.", code="not_member")
    if participant.status != Participant.Status.ACTIVE:
        raise WrongPhase("You are no longer taking part in this group.", code="not_active")
    if iteration.state != Iteration.State.COLLECTING:
        raise WrongPhase("This step has closed; the group has moved on.", code="wrong_phase")


def opinion_submit(
    *, participant: Participant, iteration: Iteration, text, response_duration_ms: int | None = None
) -> Opinion:
    """Store a member's opinion for the opinion iteration, once.

    Sending the same text again (a double click, a resubmitted form) returns the stored opinion;
    sending different text after the first is refused, never silently overwritten.
    """
    return _text_submit(
        Opinion,
        participant=participant,
        iteration=iteration,
        text=clean_text(text, what="opinion"),
        response_duration_ms=response_duration_ms,
        asked=iteration.index == 0,
        refusal="This step asks for a critique, not an opinion.",
        fields=dict,
    )


def critique_submit(
    *, participant: Participant, iteration: Iteration, text, response_duration_ms: int | None = None
) -> Critique:
    """Store a member's critique of the previous iteration's winner, once (as `opinion_submit`)."""

    def fields() -> dict:
        winner = previous_winner(iteration)
        if winner is None:
            raise WrongPhase("There is no statement to critique yet.", code="wrong_phase")
        return {"statement": winner}

    return _text_submit(
        Critique,
        participant=participant,
        iteration=iteration,
        text=clean_text(text, what="critique"),
        response_duration_ms=response_duration_ms,
        asked=iteration.index > 0,
        refusal="This step asks for an opinion, not a critique.",
        fields=fields,
    )


def _text_submit(
    model, *, participant, iteration, text, response_duration_ms, asked, refusal, fields
):
    """Store an opinion or critique once. `asked`: the iteration asks for this kind of text
    (else `refusal`); `fields()` gives the further fields to store, or raises."""
    what = model._meta.model_name
    existing = model.objects.filter(iteration=iteration, participant=participant).first()
    if existing is not None:
        return _same_or_refuse(existing, text, what=what)
    if not asked:
        raise WrongPhase(refusal, code="wrong_phase")
    _check_member_can_write(participant, iteration)
    try:
        with transaction.atomic():
            stored = model.objects.create(
                iteration=iteration,
                participant=participant,
                text=text,
                response_duration_ms=_duration(response_duration_ms),
                **fields(),
            )
    except IntegrityError:
        existing = model.objects.get(iteration=iteration, participant=participant)
        return _same_or_refuse(existing, text, what=what)
    iteration_close_if_complete(iteration=iteration)
    return stored


def already_sent(what: str) -> DomainError:
    """The refusal of a second, different answer: answers are never silently overwritten."""
    return DomainError(
        f"You have already sent your {what}; it cannot be changed.",
        code="already_submitted",
        status=409,
    )


def _same_or_refuse(existing, text: str, *, what: str):
    if existing.text == text:
        return existing
    raise already_sent(what)


def _duration(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def previous_winner(iteration: Iteration) -> Statement | None:
    if iteration.index == 0:
        return None
    return Statement.objects.filter(
        iteration__round_id=iteration.round_id, iteration__index=iteration.index - 1, is_winner=True
    ).first()


def written_count(iteration: Iteration) -> int:
    model = Critique if iteration.is_critique else Opinion
    return model.objects.filter(
        iteration=iteration, participant__status=Participant.Status.ACTIVE
    ).count()


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
        iteration.save(update_fields=["state", "updated_at"])
        _enqueue_mediation(iteration.pk)
        return True


def iteration_fail(*, iteration: Iteration, reason: str) -> None:
    """A visible failed state with the reason (made storable: a model's junk in an error message
    must not stop the failure being recorded); nothing already written is touched."""
    Iteration.objects.filter(pk=iteration.pk).exclude(state=Iteration.State.DONE).update(
        state=Iteration.State.FAILED,
        failure_reason=storable_text(reason, limit=FAILURE_REASON_MAX),
        mediation_finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def shown_statements(iteration: Iteration):
    return Statement.objects.filter(iteration=iteration, shown=True)


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
        shown = shown_statements(iteration).count()
        members = list(present_members(group).values_list("pk", flat=True))
        if not force and len(members_done_rating(iteration, members, shown)) < len(members):
            return False
        iteration.state = Iteration.State.DONE
        iteration.save(update_fields=["state", "updated_at"])
        _advance(iteration)
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
    from deliberation.services.responses import participant_complete_if_done

    for member in present_members(group):
        participant_complete_if_done(participant=member)
    _enqueue_bots(group)


def iteration_advance_if_overdue(*, iteration: Iteration, now=None) -> bool:
    """Close a collecting or rating phase whose deadline has passed; True when it moved on.

    The beat's sweep calls this for every overdue iteration; the status endpoint calls it for the
    participant's own, so that deadlines also hold where no beat runs (the embedded default).
    """
    now = now or timezone.now()
    if iteration.deadline is None or iteration.deadline >= now:
        return False
    from deliberation.services.presence import iteration_drop_absent  # (imports this module)

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
