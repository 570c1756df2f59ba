"""What participants are told about who sees what, derived from how the deliberation really runs.

The moderator's consent text is free; the sentences here are written by the platform from the
deliberation's settings (its conditions, bots, panel) so that they are always true, and they are
shown on the consent page under the moderator's text and hashed with it into the consent record.
The opinion and critique pages repeat the sentence that applies to the member's own group; the
rating and ranking pages say who reads those answers (`answer_visibility`).
The sentences are in English here and shown in the deliberation's language.
"""

import hashlib

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from deliberation.models import ConsentRecord, Deliberation, Group, Participant

BEST_OPINION = "best_opinion"

QUOTED = gettext_noop(
    "Your opinions and critiques are never shown to the other members as you wrote them or with "
    "your name. An AI mediator (a computer program) writes statements for the group from "
    "everyone's words, and a statement may quote your sentences word for word."
)
WHOLE_OPINION_SOME_GROUPS = gettext_noop(
    "In some groups, the opinion that the mediator predicts the group would agree with most is "
    "also shown to the whole group, word for word and without a name, as one of the statements to "
    "rate. It may be yours."
)
EXCLUSION_SOME_GROUPS = gettext_noop(
    "In some groups, the mediator writes a round's statement from only some of the members' "
    "opinions; everyone still rates it. You will not be told whether yours was used."
)
BOTS = gettext_noop(
    "Some members of your group may be computer programs (bots) that answer like participants. "
    "Their answers are marked as a program's and kept apart from people's in the research data."
)
READERS = gettext_noop(
    "The study's moderators can read what you write (so that they can hide anything abusive), "
    "and the researchers can read everything you give, under a random code, never your name."
)
STORED = gettext_noop(
    "What is stored: what you write, your ratings, rankings and survey answers, when you answer "
    "and how long you took. We do not ask for your name or email, and your IP address is not "
    "stored with your answers."
)
KEPT = gettext_noop(
    "How long: the platform deletes nothing by itself; your answers are kept until the research "
    "team deletes the study."
)
EXPORTED = gettext_noop(
    "When researchers export the data, you appear only as a pseudonym: a code made from your "
    "random code with a secret key (a salted hash), the same in every export from this platform."
)
PANEL_NAMES = {"prolific": "Prolific", "mturk": "MTurk", "generic": gettext_noop("panel")}
PANEL = gettext_noop(
    "Your %(panel)s ID is stored apart from your answers, so that you can be paid and can come "
    "back to the study. It is left out of exported data unless a researcher with explicit "
    "permission to handle panel IDs asks for it."
)

OPINION_PAGE = gettext_noop(
    "The other members will not see your opinion as you wrote it, nor your name: the AI mediator "
    "writes a statement for the group from everyone's opinions, and it may quote your sentences "
    "word for word."
)
OPINION_PAGE_BEST_OPINION = gettext_noop(
    "In this group the opinion that the mediator predicts the group would agree with most is also "
    "shown to everyone, word for word and without a name, beside the mediator's statement: it may "
    "be yours."
)
CRITIQUE_PAGE = gettext_noop(
    "The other members will not see your critique as you wrote it, nor your name: the mediator "
    "revises the statement from everyone's critiques, and the revision may quote your words."
)
RATING_PAGE = gettext_noop(
    "The other members will not see your ratings, only whether you have finished. The study's "
    "moderators and researchers can read them, by your seat in the group or under a random code, "
    "never with your name."
)
RANKING_PAGE = gettext_noop(
    "The other members will not see your ranking, only whether you have finished. The study's "
    "moderators and researchers can read it, under a random code, never with your name."
)


def consent_disclosures(deliberation: Deliberation) -> list[str]:
    """The platform's sentences about who sees what, in the order the consent page shows them,
    in the deliberation's language (whichever page shows them)."""
    conditions = list(deliberation.conditions.values_list("comparisons", "exclusion"))
    sentences = [QUOTED]
    if any(BEST_OPINION in (comparisons or []) for comparisons, _ in conditions):
        sentences.append(WHOLE_OPINION_SOME_GROUPS)
    if any(exclusion for _, exclusion in conditions):
        sentences.append(EXCLUSION_SOME_GROUPS)
    if deliberation.fill_with_bots:
        sentences.append(BOTS)
    sentences += [READERS, STORED, KEPT, EXPORTED]
    with translation.override(deliberation.language):
        shown = [gettext(sentence) for sentence in sentences]
        if deliberation.panel != Deliberation.Panel.NONE:
            panel = gettext(PANEL_NAMES.get(deliberation.panel, PANEL_NAMES["generic"]))
            shown.append(gettext(PANEL) % {"panel": panel})
    return shown


def consent_sha256(deliberation: Deliberation) -> str:
    """The hash of everything the consent page shows: the moderator's text and the platform's."""
    shown = "\n\n".join([deliberation.consent_text, *consent_disclosures(deliberation)])
    return hashlib.sha256(shown.encode()).hexdigest()


def with_current_consent(participants: QuerySet[Participant]) -> QuerySet[Participant]:
    """`participants` with `has_current_consent` (each has agreed to their deliberation's current
    consent version), which `consent_needed` then reads instead of asking the database."""
    return participants.annotate(
        has_current_consent=Exists(
            ConsentRecord.objects.filter(
                participant_id=OuterRef("pk"), version=OuterRef("deliberation__consent_version")
            )
        )
    )


def consent_needed(participant: Participant) -> bool:
    """Whether a person taking part has not yet agreed to the deliberation's current consent
    version (they joined before the text changed): they are asked again before their next step.
    Bots never consent; members who finished, left or were released owe nothing more."""
    if participant.is_bot:
        return False
    if participant.status not in (Participant.Status.WAITING, Participant.Status.ACTIVE):
        return participant.status == Participant.Status.JOINED
    known = getattr(participant, "has_current_consent", None)  # `with_current_consent`
    if known is not None:
        return not known
    return not ConsentRecord.objects.filter(
        participant_id=participant.pk,
        version=Subquery(
            Deliberation.objects.filter(pk=participant.deliberation_id).values("consent_version")
        ),
    ).exists()


def consented_version(participant: Participant) -> str | None:
    """The latest consent version this participant agreed to (None: never)."""
    record = participant.consents.order_by("-accepted_at", "-id").first()
    return record.version if record else None


def writing_visibility(group: Group | None, *, critique: bool) -> list[str]:
    """What the writing page says about who will see the text, for this member's group, in the
    request's language."""
    if critique:
        return [gettext(CRITIQUE_PAGE)]
    sentences = [gettext(OPINION_PAGE)]
    condition = group.condition if group is not None else None
    if condition is not None and BEST_OPINION in (condition.comparisons or []):
        sentences.append(gettext(OPINION_PAGE_BEST_OPINION))
    return sentences


def answer_visibility(kind: str) -> list[str]:
    """What the rating page (`kind` "rate") or a ranking page ("rank", "final_ranking") says
    about who reads the answer, in the request's language. True to what the platform does: the
    other members' pages show only who is done (`participant_step`); the moderators' group page
    lists the ratings of each round's winner by seat; researchers and exports show every rating
    and ranking under the participant's pseudonym (`exports.pseudonyms`)."""
    sentence = RATING_PAGE if kind == "rate" else RANKING_PAGE
    return [gettext(sentence)]
