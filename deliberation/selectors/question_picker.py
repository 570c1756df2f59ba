"""What the create page's saved-question picker shows: the questions ticked so far and those
matching the moderator's search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Q

from deliberation.models import Question

PICKER_RESULTS_MAX = 20
QUERY_MAX = 200


@dataclass
class QuestionPicker:
    query: str
    picked: list[Question] = field(default_factory=list)
    results: list[Question] = field(default_factory=list)
    more: bool = False


def question_picker(*, query: str, picked_ids: Sequence[int]) -> QuestionPicker:
    """The saved questions `picked_ids` (in that order, each once, unknown ids dropped), and up
    to `PICKER_RESULTS_MAX` others whose text or topic contains `query` (any case), oldest
    first; `more` says that more match. Two queries at most."""
    query = (query or "").strip()[:QUERY_MAX]
    found = Question.objects.in_bulk(list(dict.fromkeys(picked_ids))) if picked_ids else {}
    picked = [found[pk] for pk in dict.fromkeys(picked_ids) if pk in found]
    picker = QuestionPicker(query=query, picked=picked)
    if query:
        matches = list(
            Question.objects.filter(Q(text__icontains=query) | Q(topic__icontains=query))
            .exclude(pk__in=found)
            .order_by("id")[: PICKER_RESULTS_MAX + 1]
        )
        picker.results = matches[:PICKER_RESULTS_MAX]
        picker.more = len(matches) > PICKER_RESULTS_MAX
    return picker
