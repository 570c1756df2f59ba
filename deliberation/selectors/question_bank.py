"""What the moderator's Questions page reads: the questions that match a search, and counts."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from deliberation.models import Question

# The search form's value for "questions without a split" ("" means any split there).
NO_SPLIT = "none"


def question_search(*, text: str = "", topic: str = "", split: str = "") -> QuerySet[Question]:
    """Questions whose text contains `text` (any case), with exactly `topic`, in `split`
    (`NO_SPLIT` for those without one); empty arguments do not filter. Oldest first."""
    questions = Question.objects.order_by("id")
    if text:
        questions = questions.filter(text__icontains=text)
    if topic:
        questions = questions.filter(topic=topic)
    if split:
        questions = questions.filter(split="" if split == NO_SPLIT else split)
    return questions


def question_counts(questions: QuerySet[Question]) -> dict[str, int]:
    """One query: how many questions, per split, and how many topics, in `questions`."""
    return questions.aggregate(
        total=Count("id"),
        train=Count("id", filter=Q(split=Question.Split.TRAIN)),
        iid_test=Count("id", filter=Q(split=Question.Split.IID_TEST)),
        ood_test=Count("id", filter=Q(split=Question.Split.OOD_TEST)),
        no_split=Count("id", filter=Q(split=Question.Split.NONE)),
        topics=Count("topic", distinct=True, filter=~Q(topic="")),
    )
