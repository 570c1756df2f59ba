"""Opinions and critiques: a member's text for the iteration collecting now, stored once."""

from django.utils.translation import gettext, gettext_lazy

from deliberation.errors import WrongPhase
from deliberation.models import Critique, Iteration, Opinion, Participant
from deliberation.selectors.iterations import previous_winner
from deliberation.services.inputs import (
    already_sent,
    clean_text,
    member_check,
    response_duration,
)
from deliberation.services.once import create_once
from deliberation.services.rounds import iteration_close_if_complete
from deliberation.services.versions import member_views_changed


def _check_member_can_write(participant: Participant, iteration: Iteration) -> None:
    member_check(participant, iteration.round.group_id)
    if iteration.state != Iteration.State.COLLECTING:
        raise WrongPhase(
            gettext("This step has closed; the group has moved on."), code="wrong_phase"
        )


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
        refusal=gettext_lazy("This step asks for a critique, not an opinion."),
        fields=dict,
    )


def critique_submit(
    *, participant: Participant, iteration: Iteration, text, response_duration_ms: int | None = None
) -> Critique:
    """Store a member's critique of the previous iteration's winner, once (as `opinion_submit`)."""

    def fields() -> dict:
        winner = previous_winner(iteration)
        if winner is None:
            raise WrongPhase(gettext("There is no statement to critique yet."), code="wrong_phase")
        return {"statement": winner}

    return _text_submit(
        Critique,
        participant=participant,
        iteration=iteration,
        text=clean_text(text, what="critique"),
        response_duration_ms=response_duration_ms,
        asked=iteration.index > 0,
        refusal=gettext_lazy("This step asks for an opinion, not a critique."),
        fields=fields,
    )


def _text_submit(
    model, *, participant, iteration, text, response_duration_ms, asked, refusal, fields
):
    """Store an opinion or critique once. `asked`: the iteration asks for this kind of text
    (else `refusal`); `fields()` gives the further fields to store, or raises."""

    def check() -> None:
        if not asked:
            raise WrongPhase(str(refusal), code="wrong_phase")
        _check_member_can_write(participant, iteration)

    stored, created = create_once(
        model,
        key={"iteration": iteration, "participant": participant},
        values=lambda: {
            "text": text,
            "response_duration_ms": response_duration(response_duration_ms),
            **fields(),
        },
        same=lambda existing: existing.text == text,
        refusal=lambda: already_sent(model._meta.model_name),
        check=check,
    )
    if created:
        member_views_changed(group_ids=[participant.group_id])  # the group's count of who wrote
        iteration_close_if_complete(iteration=iteration)
    return stored
