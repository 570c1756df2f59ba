"""Checks of what a participant sends, shared by every service that stores an answer."""

from deliberation.errors import DomainError, NotAllowed, WrongPhase
from deliberation.models import TEXT_MAX, Participant


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


def already_sent(what: str) -> DomainError:
    """The refusal of a second, different answer: answers are never silently overwritten."""
    return DomainError(
        f"You have already sent your {what}; it cannot be changed.",
        code="already_submitted",
        status=409,
    )


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
    not_member: str = "This is not your group's discussion.",
) -> None:
    """Refuse an answer from someone who is not an active member of the group `group_id`:
    403 with `not_member` for an outsider, 409 for a member who dropped out or left."""
    if participant.group_id is None or participant.group_id != group_id:
        raise NotAllowed(not_member, code="not_member")
    if participant.status != Participant.Status.ACTIVE:
        raise WrongPhase("You are no longer taking part in this group.", code="not_active")
