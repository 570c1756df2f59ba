"""Creating questions and deliberations: the moderator's set-up actions.

Every function validates its whole input before writing anything and runs in one transaction,
so a refused request leaves the database as it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.db import transaction

from deliberation.errors import DomainError
from deliberation.models import TEXT_MAX, Deliberation, DeliberationQuestion, Question

GROUP_SIZE_MAX = 20
N_CANDIDATES_MAX = 64
CRITIQUE_ITERATIONS_MAX = 5
PHASE_SECONDS_MIN = 30
PHASE_SECONDS_MAX = 24 * 60 * 60
TITLE_MAX = 200
AGGREGATIONS = ("welfare", "schulze")

DEFAULT_CONSENT_VERSION = "1"
DEFAULT_CONSENT_TEXT = """\
This is a research study about how small groups find common ground.

What you will do: read a question, write your own view in a few sentences, then read and rate
group statements. The group statements are written by an AI mediator (a computer program), not
by a person, from what the members of your group wrote.

What we collect: what you write, your ratings and rankings, and when you answer. We do not ask
for your name or email. You take part under a random code; if you came from a panel such as
Prolific, your panel id is stored apart from your answers and is not part of the research data
we share.

Who sees it: the other members of your group see your opinion and critiques, without your name.
Researchers see everything, under your random code.

You can stop at any time by closing the page; you do not have to give a reason. Please do not
write anything that identifies you or anyone else.

By continuing you agree to take part and to the use of your answers for research, including
training the models that mediate future groups."""


def question_create(
    *,
    text: str,
    affirming_statement: str = "",
    negating_statement: str = "",
    topic: str = "",
    split: str = "",
    source: str = "manual",
    external_id: str | None = None,
) -> Question:
    """A new question; `text` is 1 to 2000 characters once trimmed."""
    text = _question_text(text)
    affirming_statement = _bounded(affirming_statement, "The affirming statement", TEXT_MAX)
    negating_statement = _bounded(negating_statement, "The negating statement", TEXT_MAX)
    topic = _bounded(topic, "The topic", 64)
    source = _bounded(source, "The source", 64) or "manual"
    if split not in Question.Split.values:
        raise DomainError(
            f"Split must be one of: {', '.join(v or '(none)' for v in Question.Split.values)}.",
            code="split",
        )
    external_id = (external_id or "").strip() or None
    if external_id is not None:
        external_id = _bounded(external_id, "The external id", 64)
        if Question.objects.filter(external_id=external_id).exists():
            raise DomainError(
                f"A question with external id {external_id!r} already exists.",
                code="external_id",
            )
    with transaction.atomic():
        return Question.objects.create(
            text=text,
            affirming_statement=affirming_statement,
            negating_statement=negating_statement,
            topic=topic,
            split=split,
            source=source,
            external_id=external_id,
        )


def deliberation_create(
    *,
    created_by,
    title: str,
    questions: Sequence[Question | str],
    group_size: int = 5,
    min_group_size: int = 3,
    n_candidates: int = 16,
    aggregation: str = "welfare",
    alpha: float = 1.0,
    critique_iterations: int = 0,
    opinion_seconds: int = 600,
    critique_seconds: int | None = None,
    rating_seconds: int = 600,
    consent_text: str = DEFAULT_CONSENT_TEXT,
    consent_version: str = DEFAULT_CONSENT_VERSION,
    fill_with_bots: bool = False,
    description: str = "",
) -> Deliberation:
    """An open deliberation over `questions`, asked in the order given.

    `questions` mixes saved `Question`s and texts; each text becomes a new manual question.
    The mediation settings are stored as overrides of the server's config in
    `mediation_config` (`n_candidates`, `aggregation`, `alpha`; alpha `inf` is kept as "inf").
    """
    title = _bounded(title, "The title", TITLE_MAX, "title")
    if not title:
        raise DomainError("Give the deliberation a title.", code="title")
    description = _bounded(description, "The description", TEXT_MAX, "description")
    _whole(group_size, "group_size", "Group size", 1, GROUP_SIZE_MAX)
    _whole(min_group_size, "min_group_size", "The minimum group size", 1, GROUP_SIZE_MAX)
    if min_group_size > group_size:
        raise DomainError(
            f"The minimum group size ({min_group_size}) cannot be larger than the group size "
            f"({group_size}).",
            code="min_group_size",
        )
    _whole(n_candidates, "n_candidates", "The number of candidates", 1, N_CANDIDATES_MAX)
    if aggregation not in AGGREGATIONS:
        raise DomainError(
            f"Aggregation must be one of: {', '.join(AGGREGATIONS)}.", code="aggregation"
        )
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or math.isnan(alpha)
        or alpha < 0
    ):
        raise DomainError("Alpha must be a number of 0 or more.", code="alpha")
    _whole(
        critique_iterations,
        "critique_iterations",
        "The number of critique iterations",
        0,
        CRITIQUE_ITERATIONS_MAX,
    )
    if critique_seconds is None:
        critique_seconds = opinion_seconds
    for value, code, label in (
        (opinion_seconds, "opinion_seconds", "The opinion phase"),
        (critique_seconds, "critique_seconds", "The critique phase"),
        (rating_seconds, "rating_seconds", "The rating phase"),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DomainError(f"{label} length must be a whole number of seconds.", code=code)
        if not PHASE_SECONDS_MIN <= value <= PHASE_SECONDS_MAX:
            raise DomainError(
                f"{label} must last from {PHASE_SECONDS_MIN} seconds to "
                f"{PHASE_SECONDS_MAX // 3600} hours.",
                code=code,
            )
    consent_text = (consent_text or "").strip()
    if not consent_text:
        raise DomainError("The consent text cannot be empty.", code="consent_text")
    consent_text = _bounded(consent_text, "The consent text", 10_000, "consent_text")
    consent_version = _bounded(consent_version, "The consent version", 32, "consent_version")
    if not consent_version:
        raise DomainError("The consent text needs a version.", code="consent_version")

    texts_or_questions = list(questions)
    if not texts_or_questions:
        raise DomainError("Add at least one question.", code="questions")
    for item in texts_or_questions:
        if isinstance(item, str):
            _question_text(item)
        elif not isinstance(item, Question) or item.pk is None:
            raise DomainError("Questions must be saved questions or texts.", code="questions")

    with transaction.atomic():
        chosen: list[Question] = []
        for item in texts_or_questions:
            question = question_create(text=item) if isinstance(item, str) else item
            if question.pk not in {q.pk for q in chosen}:
                chosen.append(question)
        deliberation = Deliberation.objects.create(
            title=title,
            description=description,
            created_by=created_by,
            status=Deliberation.Status.OPEN,
            group_size=group_size,
            min_group_size=min_group_size,
            critique_iterations=critique_iterations,
            opinion_seconds=opinion_seconds,
            critique_seconds=critique_seconds,
            rating_seconds=rating_seconds,
            mediation_config={
                "n_candidates": n_candidates,
                "aggregation": aggregation,
                "alpha": "inf" if math.isinf(alpha) else float(alpha),
            },
            consent_text=consent_text,
            consent_version=consent_version,
            fill_with_bots=fill_with_bots,
        )
        DeliberationQuestion.objects.bulk_create(
            DeliberationQuestion(deliberation=deliberation, question=question, position=position)
            for position, question in enumerate(chosen)
        )
    return deliberation


def _question_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError("A question cannot be empty.", code="question_text")
    if len(text) > TEXT_MAX:
        raise DomainError(
            f"A question can be at most {TEXT_MAX:,} characters; this one has {len(text):,}.",
            code="question_text",
        )
    return text


def _bounded(value: str, label: str, limit: int, code: str = "too_long") -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(
            f"{label} can be at most {limit:,} characters; it has {len(value):,}.",
            code=code,
        )
    return value


def _whole(value: int, code: str, label: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError(f"{label} must be a whole number from {low} to {high}.", code=code)
