"""Ratings of the statements shown: agreement and quality on the 7-point scales of METHOD.md."""

from django.utils.translation import gettext, gettext_lazy

from deliberation.errors import DomainError, NotAllowed, WrongPhase
from deliberation.models import Iteration, Participant, Rating, Statement
from deliberation.services.inputs import member_check, response_duration
from deliberation.services.once import create_once
from deliberation.services.rounds import iteration_finish_if_rated
from deliberation.services.versions import member_views_changed

AGREEMENT_LABELS = {
    1: gettext_lazy("Strongly disagree"),
    2: gettext_lazy("Disagree"),
    3: gettext_lazy("Somewhat disagree"),
    4: gettext_lazy("Neutral"),
    5: gettext_lazy("Somewhat agree"),
    6: gettext_lazy("Agree"),
    7: gettext_lazy("Strongly agree"),
}
QUALITY_LABELS = {
    1: gettext_lazy("Terrible"),
    2: gettext_lazy("Poor"),
    3: gettext_lazy("Somewhat poor"),
    4: gettext_lazy("Neutral"),
    5: gettext_lazy("Somewhat good"),
    6: gettext_lazy("Good"),
    7: gettext_lazy("Excellent"),
}


LIKERT_INVALID = {
    "agreement": gettext_lazy("Please choose a number from 1 to 7 for agreement."),
    "quality": gettext_lazy("Please choose a number from 1 to 7 for quality."),
}


def likert_value(value, *, what: str, question: str | None = None) -> int:
    """A whole number from 1 to 7 (an int, or a string of digits), or a DomainError saying so.
    `what` ("agreement", "quality", or a survey item's key) names the error code; the message
    names the scale, or the survey `question`."""
    if question is not None:
        message = gettext('Please choose a number from 1 to 7 for "%(question)s".') % {
            "question": question
        }
    else:
        message = str(LIKERT_INVALID[what])
    invalid = DomainError(message, code=f"{what}_invalid")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise invalid
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid
    if not 1 <= value <= 7:
        raise DomainError(message, code=f"{what}_out_of_range")
    return value


def rating_submit(
    *,
    participant: Participant,
    statement: Statement,
    agreement,
    quality,
    response_duration_ms: int | None = None,
) -> Rating:
    """Store a member's rating of a statement shown to them, once.

    The same rating sent twice is stored once; a different rating after the first is refused
    (ratings are never silently overwritten).
    """
    agreement = likert_value(agreement, what="agreement")
    quality = likert_value(quality, what="quality")
    iteration = statement.iteration

    def check() -> None:
        member_check(
            participant,
            iteration.round.group_id,
            not_member=gettext("This statement is not from your group."),
        )
        if not statement.shown:
            raise NotAllowed(
                gettext("This statement is not one you were asked to rate."), code="not_shown"
            )
        if iteration.state != Iteration.State.RATING:
            raise WrongPhase(gettext("Rating has closed for this statement."), code="wrong_phase")

    rating, created = create_once(
        Rating,
        key={"participant": participant, "statement": statement, "iteration": iteration},
        values=lambda: {
            "agreement": agreement,
            "quality": quality,
            "response_duration_ms": response_duration(response_duration_ms),
        },
        same=lambda existing: (existing.agreement, existing.quality) == (agreement, quality),
        refusal=lambda: DomainError(
            gettext("You have already rated this statement; ratings cannot be changed."),
            code="already_rated",
            status=409,
        ),
        check=check,
    )
    if created:
        member_views_changed(group_ids=[participant.group_id])  # the group's count of who is done
        iteration_finish_if_rated(iteration=iteration)
    return rating
