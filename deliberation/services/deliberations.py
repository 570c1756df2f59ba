"""Creating questions and deliberations: the moderator's set-up actions.

Every function validates its whole input before writing anything and runs in one transaction,
so a refused request leaves the database as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from deliberation.errors import DomainError
from deliberation.models import (
    TEXT_MAX,
    AuditLog,
    Condition,
    Deliberation,
    DeliberationQuestion,
    Question,
    default_survey_items,
)
from deliberation.services.inputs import clean_bounded, clean_question_text
from deliberation.services.once import create_once
from deliberation.services.study_settings import (
    AGGREGATIONS,
    N_CANDIDATES_MAX,
    conditions_clean,
    panel_settings_clean,
    survey_items_clean,
)
from deliberation.services.versions import member_views_changed
from inference.aggregation import check_alpha

GROUP_SIZE_MAX = 20
CRITIQUE_ITERATIONS_MAX = 5
PHASE_SECONDS_MIN = 30
PHASE_SECONDS_MAX = 24 * 60 * 60
WAIT_SECONDS_MIN = 10
TITLE_MAX = 200
TOPIC_MAX = 64
SOURCE_MAX = 64
EXTERNAL_ID_MAX = 64

DEFAULT_CONSENT_VERSION = "1"
# The platform's consent text, in English; `default_consent_text(language)` translates it.
DEFAULT_CONSENT_TEXT = gettext_noop("""\
This is a research study about how small groups find common ground.

What you will do: read a question, write your own view in a few sentences, then read, rate and
rank group statements, and answer a few questions. The group statements are written by an AI
mediator (a computer program), not by a person, from what the members of your group wrote.

You take part under a random code. Please do not write anything that identifies you or anyone
else.

You can stop at any time by closing the page or with "Leave the study"; you do not have to give
a reason.

By continuing you agree to take part and to the use of your answers for research, including
training the models that mediate future groups. Below, the platform says exactly who sees what
you write and what is kept.""")


def default_consent_text(language: str) -> str:
    """The platform's consent text in `language` (one of settings.LANGUAGES)."""
    with translation.override(language):
        return gettext(DEFAULT_CONSENT_TEXT)


def is_default_consent_text(text: str) -> bool:
    """Whether `text` is the platform's consent text, in any of its languages."""
    return any(text == default_consent_text(code) for code, _ in settings.LANGUAGES)


def _is_default_survey(items: list[dict]) -> bool:
    """Whether `items` are the platform's default survey, in any of its languages."""
    return any(items == default_survey_items(code) for code, _ in settings.LANGUAGES)


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
    text = clean_question_text(text)
    affirming_statement = clean_bounded(affirming_statement, "The affirming statement", TEXT_MAX)
    negating_statement = clean_bounded(negating_statement, "The negating statement", TEXT_MAX)
    topic = clean_bounded(topic, "The topic", TOPIC_MAX)
    source = clean_bounded(source, "The source", SOURCE_MAX) or "manual"
    if split not in Question.Split.values:
        raise DomainError(
            f"Split must be one of: {', '.join(v or '(none)' for v in Question.Split.values)}.",
            code="split",
        )
    external_id = (external_id or "").strip() or None
    if external_id is not None:
        external_id = clean_bounded(external_id, "The external id", EXTERNAL_ID_MAX)
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


@dataclass(frozen=True)
class Setup:
    """A deliberation's set-up as `deliberation_setup_clean` checked it: the `Deliberation`
    field values, the questions in order (saved ones and texts still to save) and the
    conditions as `Condition` field values, in order."""

    fields: dict[str, Any]
    questions: list[Question | str]
    conditions: list[dict]


def deliberation_setup_clean(
    *,
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
    pool_wait_seconds: int = 900,
    dropout_seconds: int = 120,
    fill_with_bots: bool = False,
    description: str = "",
    position_ratings: bool = True,
    survey_items: Sequence[Mapping[str, Any]] | None = None,
    panel: str = Deliberation.Panel.NONE,
    completion_code: str = "",
    completion_url: str = "",
    release_code: str = "",
    exclusion_count: int = 1,
    conditions: Sequence[Mapping[str, Any]] = (),
    language: str = settings.LANGUAGE_CODE,
) -> Setup:
    """A deliberation's whole set-up checked, as `deliberation_create` and
    `deliberation_setup_update` take it; writes nothing.

    `questions` mixes saved `Question`s and texts; each text becomes a new manual question.
    The mediation settings are stored as overrides of the server's config in
    `mediation_config` (`n_candidates`, `aggregation`, `alpha`; alpha `inf` is kept as "inf").

    `language` (one of settings.LANGUAGES) is what the participants' pages speak. The platform's
    default survey, in whichever language it is given (or left out), is stored in that language;
    so is its consent text (`deliberation_create`). A text of the moderator's own is stored as
    written.

    `survey_items` is the end-of-round survey, `[{"key", "text", "kind", "required"}]` (at most
    10; keys unique lower-case slugs; text 1-500 characters; kind one of `SURVEY_KINDS`);
    `None` gives `default_survey_items()`, an empty list asks nothing. `completion_url` is an
    http(s) address in which `{code}` is replaced by `completion_code`.

    `conditions` is a list of `{"name", "description", "mediation_config", "comparisons",
    "baseline_config", "exclusion"}` (only `name` is required), stored as `Condition` rows:

    - `name`: a lower-case slug, unique in the deliberation; `description`: up to 500 characters.
    - `mediation_config`: overrides of the deliberation's, the shape of
      `MediationConfig.from_dict` restricted to `MEDIATION_OVERRIDE_KEYS`: `n_candidates`
      1-64 (1 = no reranking), `aggregation` "welfare" or "schulze", `alpha` >= 0 or "inf",
      `generator` / `reward`: a backend name or `{"backend", "model", "url"}` (any subset).
    - `comparisons`: a subset of `COMPARISONS`, stored in that order.
    - `baseline_config`: overrides, same shape, for the baseline statement, applied over the
      condition's config with N = 1 (`inference.comparisons.baseline_config`); only with the
      "baseline" comparison.
    - `exclusion`: whether rounds mediate from all members but `exclusion_count` of them, which
      must then leave at least one member of the smallest group it can meet (`min_group_size`).

    A refusal raises `DomainError` (for a condition, `study_settings.ConditionError`).
    """
    title = clean_bounded(title, "The title", TITLE_MAX, "title")
    if not title:
        raise DomainError("Give the deliberation a title.", code="title")
    description = clean_bounded(description, "The description", TEXT_MAX, "description")
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
    try:
        check_alpha(alpha)
    except ValueError:
        raise DomainError("Alpha must be a number of 0 or more.", code="alpha") from None
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
        _seconds(value, code, label, PHASE_SECONDS_MIN)
    _seconds(pool_wait_seconds, "pool_wait_seconds", "The wait in the pool", WAIT_SECONDS_MIN)
    _seconds(dropout_seconds, "dropout_seconds", "The dropout time", WAIT_SECONDS_MIN)
    if language not in dict(settings.LANGUAGES):
        raise DomainError(
            f"The language must be one of: {', '.join(dict(settings.LANGUAGES))}.",
            code="language",
        )
    _boolean(fill_with_bots, "fill_with_bots", "Filling with bots")
    _boolean(position_ratings, "position_ratings", "Position ratings")
    items = survey_items_clean(survey_items)
    if _is_default_survey(items):
        items = default_survey_items(language)
    panel, completion_code, completion_url, release_code = panel_settings_clean(
        panel, completion_code, completion_url, release_code
    )
    mediation_config = {
        "n_candidates": n_candidates,
        "aggregation": aggregation,
        "alpha": "inf" if math.isinf(alpha) else float(alpha),
    }
    arms = conditions_clean(conditions, mediation_config)
    _exclusion_count(exclusion_count, min_group_size, any(arm["exclusion"] for arm in arms))

    texts_or_questions = list(questions)
    if not texts_or_questions:
        raise DomainError("Add at least one question.", code="questions")
    for item in texts_or_questions:
        if isinstance(item, str):
            clean_question_text(item)
        elif not isinstance(item, Question) or item.pk is None:
            raise DomainError("Questions must be saved questions or texts.", code="questions")
    return Setup(
        fields={
            "title": title,
            "description": description,
            "group_size": group_size,
            "min_group_size": min_group_size,
            "critique_iterations": critique_iterations,
            "opinion_seconds": opinion_seconds,
            "critique_seconds": critique_seconds,
            "rating_seconds": rating_seconds,
            "pool_wait_seconds": pool_wait_seconds,
            "dropout_seconds": dropout_seconds,
            "mediation_config": mediation_config,
            "fill_with_bots": fill_with_bots,
            "position_ratings": position_ratings,
            "survey_items": items,
            "panel": panel,
            "completion_code": completion_code,
            "completion_url": completion_url,
            "release_code": release_code,
            "exclusion_count": exclusion_count,
            "language": language,
        },
        questions=texts_or_questions,
        conditions=arms,
    )


def deliberation_create(
    *,
    created_by,
    consent_text: str = DEFAULT_CONSENT_TEXT,
    consent_version: str = DEFAULT_CONSENT_VERSION,
    submission: str = "",
    **settings: Any,
) -> Deliberation:
    """An open deliberation with the set-up `settings` (the keyword arguments of
    `deliberation_setup_clean`: title, questions in the order asked, group and phase settings,
    mediation, survey, panel, conditions) and its consent text.

    Everything is checked before anything is written; a refusal raises `DomainError` (for a
    condition, `study_settings.ConditionError`) and writes nothing.
    """
    setup = deliberation_setup_clean(**settings)
    consent_text = (consent_text or "").strip()
    if is_default_consent_text(consent_text):
        consent_text = default_consent_text(setup.fields["language"])
    if not consent_text:
        raise DomainError("The consent text cannot be empty.", code="consent_text")
    consent_text = clean_bounded(consent_text, "The consent text", 10_000, "consent_text")
    consent_version = clean_bounded(consent_version, "The consent version", 32, "consent_version")
    if not consent_version:
        raise DomainError("The consent text needs a version.", code="consent_version")
    with transaction.atomic():
        chosen = questions_save(setup.questions)
        deliberation = Deliberation.objects.create(
            created_by=created_by,
            status=Deliberation.Status.OPEN,
            consent_text=consent_text,
            consent_version=consent_version,
            submission=submission,
            **setup.fields,
        )
        questions_link(deliberation, chosen)
        Condition.objects.bulk_create(
            Condition(deliberation=deliberation, **arm) for arm in setup.conditions
        )
    return deliberation


def questions_save(items: Sequence[Question | str]) -> list[Question]:
    """The questions in order, each text saved as a new question, each question once."""
    chosen: list[Question] = []
    for item in items:
        question = question_create(text=item) if isinstance(item, str) else item
        if question.pk not in {q.pk for q in chosen}:
            chosen.append(question)
    return chosen


def questions_link(deliberation: Deliberation, questions: Sequence[Question]) -> None:
    DeliberationQuestion.objects.bulk_create(
        DeliberationQuestion(deliberation=deliberation, question=question, position=position)
        for position, question in enumerate(questions)
    )


def deliberation_create_once(*, submission: str, created_by, **settings: Any) -> str:
    """`deliberation_create` at most once per `submission` id of `created_by`, for a create
    page that may be posted twice (a double click, a resent form). Returns the public id of the
    deliberation the submission created: now, earlier, or in a concurrent request with the same
    id (the unique constraint `deliberation_submission_once` decides, the database waiting for
    the other request's transaction). A refusal raises `DomainError` as `deliberation_create`
    does, and the same submission may try again."""
    if not submission:
        raise DomainError("The form has no submission id; reload the page.", code="submission")
    deliberation, _ = create_once(
        Deliberation,
        key={"created_by": created_by, "submission": submission},
        create=lambda: deliberation_create(
            created_by=created_by, submission=submission, **settings
        ),
        same=lambda existing: True,
        refusal=lambda: DomainError("unreachable"),
    )
    return str(deliberation.public_id)


SETTABLE_STATUSES = (Deliberation.Status.OPEN, Deliberation.Status.CLOSED)


def deliberation_set_status(*, deliberation: Deliberation, status: str, actor) -> Deliberation:
    """Open or close `deliberation` (a closed one takes no new participants) and record the
    change in the audit log with `actor`. Setting the status it already has changes nothing and
    logs nothing. Returns the deliberation with its status refreshed."""
    if status not in SETTABLE_STATUSES:
        raise DomainError(
            f"A deliberation can be set to: {', '.join(SETTABLE_STATUSES)}.", code="status"
        )
    with transaction.atomic():
        current = (
            Deliberation.objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=deliberation.pk)
        )
        if current != status:
            Deliberation.objects.filter(pk=deliberation.pk).update(status=status)
            AuditLog.objects.create(
                actor=actor,
                action="deliberation_status",
                target_type="deliberation",
                target_id=deliberation.pk,
                data={"from": current, "to": status},
            )
            member_views_changed(deliberation_id=deliberation.pk)
    deliberation.status = status
    return deliberation


def _seconds(value: int, code: str, label: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(f"{label} must be a whole number of seconds.", code=code)
    if not low <= value <= PHASE_SECONDS_MAX:
        raise DomainError(
            f"{label} must last from {low} seconds to {PHASE_SECONDS_MAX // 3600} hours.",
            code=code,
        )


def _boolean(value: bool, code: str, label: str) -> None:
    if not isinstance(value, bool):
        raise DomainError(f"{label} must be on or off (true or false).", code=code)


def _exclusion_count(count: int, min_group_size: int, needed: bool) -> None:
    if not needed:
        _whole(count, "exclusion_count", "The number left out", 0, GROUP_SIZE_MAX - 1)
        return
    if min_group_size < 2:
        raise DomainError(
            "An exclusion condition leaves members out, so the minimum group size must be at "
            "least 2.",
            code="exclusion_count",
        )
    _whole(
        count,
        "exclusion_count",
        "The number left out (exclusion condition)",
        1,
        min_group_size - 1,
    )


def _whole(value: int, code: str, label: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError(f"{label} must be a whole number from {low} to {high}.", code=code)
