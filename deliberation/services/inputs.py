"""Checks of what a participant sends, shared by every service that stores an answer. The
messages are in the request's language (the deliberation's, on participant pages)."""

from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy

from deliberation.errors import DomainError, NotAllowed, WrongPhase
from deliberation.models import TEXT_MAX, Participant

# What `clean_text` says about an opinion or a critique, whole sentences for the translators.
TEXT_MESSAGES = {
    "opinion": {
        "invalid": gettext_lazy("Your opinion must be text."),
        "empty": gettext_lazy("Please write your opinion before sending it."),
        "too_long": gettext_lazy(
            "Your opinion is %(length)s characters long; please keep it to %(limit)s."
        ),
        "nul": gettext_lazy("Your opinion contains a character that cannot be stored."),
    },
    "critique": {
        "invalid": gettext_lazy("Your critique must be text."),
        "empty": gettext_lazy("Please write your critique before sending it."),
        "too_long": gettext_lazy(
            "Your critique is %(length)s characters long; please keep it to %(limit)s."
        ),
        "nul": gettext_lazy("Your critique contains a character that cannot be stored."),
    },
}


def grouped(number: int) -> str:
    """A number as the request's language writes it, grouped (2,000; 2.000 in German)."""
    return number_format(number, force_grouping=True)


def clean_text(text, *, what: str) -> str:
    """Trim and check a participant's text (`what`: "opinion" or "critique"): 1 to 2,000
    characters."""
    messages = TEXT_MESSAGES[what]
    if not isinstance(text, str):
        raise DomainError(str(messages["invalid"]), code=f"{what}_invalid")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise DomainError(str(messages["empty"]), code=f"{what}_empty")
    if len(text) > TEXT_MAX:
        raise DomainError(
            str(messages["too_long"]) % {"length": grouped(len(text)), "limit": grouped(TEXT_MAX)},
            code=f"{what}_too_long",
        )
    if "\x00" in text:
        raise DomainError(str(messages["nul"]), code=f"{what}_invalid")
    return text


def response_duration(value) -> int | None:
    """The page's measured time to answer in milliseconds, or None when it is missing or not a
    plausible number (it is a measurement, never a reason to refuse the answer)."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


ALREADY_SENT = {
    "opinion": gettext_lazy("You have already sent your opinion; it cannot be changed."),
    "critique": gettext_lazy("You have already sent your critique; it cannot be changed."),
    "position rating": gettext_lazy(
        "You have already sent your position rating; it cannot be changed."
    ),
    "ranking": gettext_lazy("You have already sent your ranking; it cannot be changed."),
    "final ranking": gettext_lazy(
        "You have already sent your final ranking; it cannot be changed."
    ),
    "survey": gettext_lazy(
        "You have already sent your answers to the survey; they cannot be changed."
    ),
}


def already_sent(what: str) -> DomainError:
    """The refusal of a second, different answer (`what`: a key of `ALREADY_SENT`): answers are
    never silently overwritten."""
    return DomainError(str(ALREADY_SENT[what]), code="already_submitted", status=409)


def clean_bounded(value: str, label: str, limit: int, code: str = "too_long") -> str:
    """Trimmed `value` (None counts as empty), refused when longer than `limit` characters."""
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(
            f"{label} can be at most {limit:,} characters; it has {len(value):,}.",
            code=code,
        )
    return value


def clean_question_text(text: str) -> str:
    """A question's text: trimmed, not empty, at most `TEXT_MAX` characters."""
    text = (text or "").strip()
    if not text:
        raise DomainError("A question cannot be empty.", code="question_text")
    if len(text) > TEXT_MAX:
        raise DomainError(
            f"A question can be at most {TEXT_MAX:,} characters; this one has {len(text):,}.",
            code="question_text",
        )
    return text


def member_check(
    participant: Participant,
    group_id: int,
    *,
    not_member: str | None = None,
) -> None:
    """Refuse an answer from someone who is not an active member of the group `group_id`:
    403 with `not_member` (by default: not your group's discussion) for an outsider, 409 for a
    member who dropped out or left."""
    if participant.group_id is None or participant.group_id != group_id:
        raise NotAllowed(
            not_member or gettext("This is not your group's discussion."), code="not_member"
        )
    if participant.status != Participant.Status.ACTIVE:
        raise WrongPhase(gettext("You are no longer taking part in this group."), code="not_active")
