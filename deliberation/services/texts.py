"""Opinions and critiques: a member's text for the iteration collecting now, stored once."""

from django.db import IntegrityError, transaction

from deliberation.errors import NotAllowed, WrongPhase
from deliberation.models import Critique, Iteration, Opinion, Participant
from deliberation.selectors.iterations import previous_winner
from deliberation.services.inputs import already_sent, clean_text, response_duration
from deliberation.services.rounds import iteration_close_if_complete


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
                response_duration_ms=response_duration(response_duration_ms),
                **fields(),
            )
    except IntegrityError:
        existing = model.objects.get(iteration=iteration, participant=participant)
        return _same_or_refuse(existing, text, what=what)
    iteration_close_if_complete(iteration=iteration)
    return stored


def _same_or_refuse(existing, text: str, *, what: str):
    if existing.text == text:
        return existing
    raise already_sent(what)
