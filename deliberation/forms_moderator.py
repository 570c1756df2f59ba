"""Forms of the moderator pages. They check the shape of the input; the rules (minimum size not
above group size, at least one question, ...) live in the services, whose `DomainError` codes
`DOMAIN_ERROR_FIELDS` maps back to the field the moderator has to fix."""

from __future__ import annotations

import re

from django import forms

from deliberation.models import TEXT_MAX, Question
from deliberation.services.deliberations import (
    AGGREGATIONS,
    CRITIQUE_ITERATIONS_MAX,
    GROUP_SIZE_MAX,
    N_CANDIDATES_MAX,
    TITLE_MAX,
)

QUESTION_LINES_MAX = 200
PHASE_MINUTES_MAX = 24 * 60

AGGREGATION_LABELS = {
    "welfare": "Welfare (predicted agreement, inequality aversion alpha)",
    "schulze": "Schulze (predicted rankings)",
}
DOMAIN_ERROR_FIELDS = {
    "title": "title",
    "description": "description",
    "questions": "question_lines",
    "question_text": "question_lines",
    "group_size": "group_size",
    "min_group_size": "min_group_size",
    "n_candidates": "n_candidates",
    "aggregation": "aggregation",
    "alpha": "alpha",
    "critique_iterations": "critique_iterations",
    "opinion_seconds": "opinion_minutes",
    "critique_seconds": "critique_minutes",
    "rating_seconds": "rating_minutes",
}


class DeliberationCreateForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    description = forms.CharField(
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional; for moderators and researchers, not shown to participants.",
    )
    question_lines = forms.CharField(
        label="New questions",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=(
            f"One question per line, at most {TEXT_MAX:,} characters each. "
            "Groups get the questions in this order, one per round."
        ),
    )
    existing_question_ids = forms.CharField(
        label="Existing question ids",
        required=False,
        help_text="Ids of saved questions, separated by commas or spaces; asked after new ones.",
    )
    group_size = forms.IntegerField(
        min_value=1,
        max_value=GROUP_SIZE_MAX,
        initial=5,
        help_text="Members per group; 3 to 5 is typical.",
    )
    min_group_size = forms.IntegerField(
        label="Minimum group size",
        min_value=1,
        max_value=GROUP_SIZE_MAX,
        initial=3,
        help_text="A round goes on after dropouts as long as this many members are left.",
    )
    n_candidates = forms.IntegerField(
        label="Candidate statements",
        min_value=1,
        max_value=N_CANDIDATES_MAX,
        initial=16,
        help_text="How many statements the mediator writes before choosing one; 16 in the papers.",
    )
    aggregation = forms.ChoiceField(
        choices=[(name, AGGREGATION_LABELS[name]) for name in AGGREGATIONS],
        initial="welfare",
    )
    alpha = forms.FloatField(
        min_value=0,
        initial=1.0,
        help_text=(
            "Welfare only. 0: average agreement; 1: geometric mean; larger values weigh the "
            "least satisfied member more."
        ),
    )
    critique_iterations = forms.IntegerField(
        min_value=0,
        max_value=CRITIQUE_ITERATIONS_MAX,
        initial=0,
        help_text="0: opinions only; 1: members critique the statement, the mediator revises it.",
    )
    opinion_minutes = forms.IntegerField(
        label="Opinion phase (minutes)", min_value=1, max_value=PHASE_MINUTES_MAX, initial=10
    )
    critique_minutes = forms.IntegerField(
        label="Critique phase (minutes)", min_value=1, max_value=PHASE_MINUTES_MAX, initial=10
    )
    rating_minutes = forms.IntegerField(
        label="Rating phase (minutes)", min_value=1, max_value=PHASE_MINUTES_MAX, initial=10
    )
    fill_with_bots = forms.BooleanField(
        label="Fill empty seats with bots",
        required=False,
        help_text="For demos and pilots: bot participants take the seats nobody fills in time.",
    )

    def clean_question_lines(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["question_lines"].splitlines()]
        numbered = [(number, line) for number, line in enumerate(lines, 1) if line]
        if len(numbered) > QUESTION_LINES_MAX:
            raise forms.ValidationError(
                f"At most {QUESTION_LINES_MAX} new questions at once; there are {len(numbered)}."
            )
        too_long = [f"line {n} ({len(line):,})" for n, line in numbered if len(line) > TEXT_MAX]
        if too_long:
            raise forms.ValidationError(
                f"A question can be at most {TEXT_MAX:,} characters. Too long: "
                + ", ".join(too_long)
                + "."
            )
        return [line for _, line in numbered]

    def clean_existing_question_ids(self) -> list[Question]:
        raw = self.cleaned_data["existing_question_ids"]
        tokens = [t for t in re.split(r"[\s,;]+", raw) if t]
        bad = [t for t in tokens if not t.isdigit()]
        if bad:
            raise forms.ValidationError(
                "Question ids are whole numbers; not: " + ", ".join(bad[:5]) + "."
            )
        ids = list(dict.fromkeys(int(t) for t in tokens))
        found = Question.objects.in_bulk(ids)
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise forms.ValidationError("No question with id " + ", ".join(missing[:10]) + ".")
        return [found[i] for i in ids]

    def clean(self):
        cleaned = super().clean()
        if (
            "question_lines" in cleaned
            and "existing_question_ids" in cleaned
            and not cleaned["question_lines"]
            and not cleaned["existing_question_ids"]
        ):
            self.add_error(
                "question_lines", "Add at least one question: write one or give a saved id."
            )
        return cleaned

    def service_kwargs(self) -> dict:
        """The cleaned data as `deliberation_create` keyword arguments."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "questions": [*data["question_lines"], *data["existing_question_ids"]],
            "group_size": data["group_size"],
            "min_group_size": data["min_group_size"],
            "n_candidates": data["n_candidates"],
            "aggregation": data["aggregation"],
            "alpha": data["alpha"],
            "critique_iterations": data["critique_iterations"],
            "opinion_seconds": data["opinion_minutes"] * 60,
            "critique_seconds": data["critique_minutes"] * 60,
            "rating_seconds": data["rating_minutes"] * 60,
            "fill_with_bots": data["fill_with_bots"],
        }

    def add_domain_error(self, code: str, message: str) -> None:
        self.add_error(DOMAIN_ERROR_FIELDS.get(code), message)
