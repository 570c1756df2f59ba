"""Forms of the moderator pages. They check the shape of the input; the rules (minimum size not
above group size, at least one question, condition names unique, ...) live in the services,
whose `DomainError` codes `DOMAIN_ERROR_FIELDS` (and, for a condition, `ConditionError`'s index
and field) map back to the field the moderator has to fix."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.forms.formsets import INITIAL_FORM_COUNT, TOTAL_FORM_COUNT

from deliberation.forms_conditions import (
    AGGREGATION_LABELS,
    CONDITION_ERROR_FIELDS,
    ConditionForm,
    ConditionFormSet,
    condition_initial,
)
from deliberation.models import (
    SURVEY_KINDS,
    TEXT_MAX,
    Deliberation,
    Question,
    default_survey_items,
)
from deliberation.services.deliberations import (
    CRITIQUE_ITERATIONS_MAX,
    GROUP_SIZE_MAX,
    TITLE_MAX,
)
from deliberation.services.study_settings import (
    AGGREGATIONS,
    CODE_MAX,
    COMPLETION_URL_MAX,
    CONDITIONS_MAX,
    N_CANDIDATES_MAX,
    SURVEY_ITEMS_MAX,
    ConditionError,
)
from inference.config import MediationConfig

QUESTION_LINES_MAX = 200
PHASE_MINUTES_MAX = 24 * 60
DROPOUT_SECONDS_MAX = 24 * 60 * 60
CONDITION_ROWS_INITIAL = 2
CONDITION_PREFIX = "condition"
SURVEY_REQUIRED = {"required": True, "optional": False}

DOMAIN_ERROR_FIELDS = {
    "title": "title",
    "description": "description",
    "language": "language",
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
    "pool_wait_seconds": "pool_wait_minutes",
    "dropout_seconds": "dropout_seconds",
    "fill_with_bots": "fill_with_bots",
    "position_ratings": "position_ratings",
    "survey_items": "survey_text",
    "panel": "panel",
    "completion_code": "completion_code",
    "completion_url": "completion_url",
    "release_code": "release_code",
    "exclusion_count": "exclusion_count",
}


def survey_lines(items: list[dict]) -> str:
    """Survey items in the create page's text format (`SurveyField`)."""
    return "\n".join(
        f"{item['key']} | {item['kind']} | {'required' if item['required'] else 'optional'} | "
        f"{item['text']}"
        for item in items
    )


def _default(name: str):
    """A deliberation setting's default, as its model field states it (the one place)."""
    return Deliberation._meta.get_field(name).get_default()


class SurveyField(forms.CharField):
    """End-of-round survey items, one per line: `key | kind | required or optional | text`.

    Checks the shape of each line; keys, lengths and the number of items are the service's
    rules (`study_settings.survey_items_clean`)."""

    widget = forms.Textarea(attrs={"rows": 5, "spellcheck": "false"})

    def __init__(self, **kwargs):
        super().__init__(required=False, strip=False, **kwargs)

    def clean(self, value) -> list[dict]:
        value = super().clean(value)
        items, problems = [], []
        for number, line in enumerate(value.splitlines(), 1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|", 3)]
            if len(parts) != 4:
                problems.append(
                    f"line {number} needs four parts separated by |: "
                    "key | kind | required or optional | text"
                )
                continue
            key, kind, required, text = parts
            if kind not in SURVEY_KINDS:
                problems.append(f"line {number}: the kind is {' or '.join(SURVEY_KINDS)}")
                continue
            if required.lower() not in SURVEY_REQUIRED:
                problems.append(f"line {number}: the third part is required or optional")
                continue
            items.append(
                {
                    "key": key,
                    "kind": kind,
                    "required": SURVEY_REQUIRED[required.lower()],
                    "text": text,
                }
            )
        if problems:
            raise forms.ValidationError("Survey: " + "; ".join(problems) + ".")
        return items


class DeliberationCreateForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    description = forms.CharField(
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional; for moderators and researchers, not shown to participants.",
    )
    language = forms.ChoiceField(
        label="Participants' language",
        choices=settings.LANGUAGES,
        required=False,
        initial=_default("language"),
        help_text="Participants' pages, the standard consent text and the default survey are in "
        "this language, whatever their browser's. Questions and texts you write are shown as "
        "written.",
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
    picked_questions = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    question_query = forms.CharField(
        label="Search saved questions",
        required=False,
        max_length=200,
        help_text="Words of the question or its topic. Tick the questions to ask.",
    )
    existing_question_ids = forms.CharField(
        label="Saved question ids",
        required=False,
        help_text="Ids of saved questions, separated by commas or spaces; asked after those "
        "ticked above.",
    )
    saved_first = forms.BooleanField(
        label="Ask the saved questions before the new ones",
        required=False,
        help_text="Otherwise the new questions come first.",
    )
    group_size = forms.IntegerField(
        min_value=1,
        max_value=GROUP_SIZE_MAX,
        initial=_default("group_size"),
        help_text="Members per group; 3 to 5 is typical.",
    )
    min_group_size = forms.IntegerField(
        label="Minimum group size",
        min_value=1,
        max_value=GROUP_SIZE_MAX,
        initial=_default("min_group_size"),
        help_text="A round goes on after dropouts as long as this many members are left.",
    )
    n_candidates = forms.IntegerField(
        label="Candidate statements",
        min_value=1,
        max_value=N_CANDIDATES_MAX,
        initial=MediationConfig.n_candidates,
        help_text="How many statements the mediator writes before choosing one; 16 in the papers. "
        "1 means no reranking.",
    )
    aggregation = forms.ChoiceField(
        choices=[(name, AGGREGATION_LABELS[name]) for name in AGGREGATIONS],
        initial=MediationConfig.aggregation,
    )
    alpha = forms.FloatField(
        min_value=0,
        initial=MediationConfig.alpha,
        help_text=(
            "Welfare only. 0: average agreement; 1: geometric mean; larger values weigh the "
            "least satisfied member more."
        ),
    )
    critique_iterations = forms.IntegerField(
        min_value=0,
        max_value=CRITIQUE_ITERATIONS_MAX,
        initial=_default("critique_iterations"),
        help_text="Per round. 0: opinions only; 1 or more: members critique the statement and "
        "the mediator revises it, that many times.",
    )
    opinion_minutes = forms.IntegerField(
        label="Opinion phase (minutes)",
        min_value=1,
        max_value=PHASE_MINUTES_MAX,
        initial=_default("opinion_seconds") // 60,
    )
    critique_minutes = forms.IntegerField(
        label="Critique phase (minutes)",
        min_value=1,
        max_value=PHASE_MINUTES_MAX,
        initial=_default("critique_seconds") // 60,
    )
    rating_minutes = forms.IntegerField(
        label="Rating phase (minutes)",
        min_value=1,
        max_value=PHASE_MINUTES_MAX,
        initial=_default("rating_seconds") // 60,
    )
    pool_wait_minutes = forms.IntegerField(
        label="Longest wait for a group (minutes)",
        required=False,
        min_value=1,
        max_value=PHASE_MINUTES_MAX,
        initial=_default("pool_wait_seconds") // 60,
        help_text="Who waits this long without a group is told, released and given the release "
        f"code. Empty: {_default('pool_wait_seconds') // 60}.",
    )
    dropout_seconds = forms.IntegerField(
        label="Dropout after (seconds unseen)",
        required=False,
        min_value=10,
        max_value=DROPOUT_SECONDS_MAX,
        initial=_default("dropout_seconds"),
        help_text="At a deadline, a member not seen for this long who has not answered is marked "
        f"as dropped out; the group goes on. Empty: {_default('dropout_seconds')}.",
    )
    fill_with_bots = forms.BooleanField(
        label="Fill empty seats with bots",
        required=False,
        help_text="For demos and pilots: bot participants take the seats nobody fills in time.",
    )
    position_ratings = forms.BooleanField(
        label="Ask for position ratings before and after each round",
        required=False,
        initial=_default("position_ratings"),
        help_text="Agreement with the question's position statement, where it has one.",
    )
    survey_text = SurveyField(
        label="End-of-round survey",
        initial=survey_lines(default_survey_items()),
        help_text=(
            f"At most {SURVEY_ITEMS_MAX} items, one per line: key | likert or text | required "
            "or optional | the question. The key is a short unique name for the data (lower-case "
            "letters, digits, - and _). Likert items use the 7-point scale. Empty: no survey."
        ),
    )
    panel = forms.ChoiceField(
        choices=Deliberation.Panel.choices,
        required=False,
        initial=_default("panel"),
        help_text="Where participants come from; the join link reads the panel's ids.",
    )
    completion_code = forms.CharField(
        required=False,
        max_length=CODE_MAX,
        help_text="Given to members who finish every step (Prolific needs it).",
    )
    completion_url = forms.CharField(
        label="Completion URL",
        required=False,
        max_length=COMPLETION_URL_MAX,
        help_text="Where members go after the last step; {code} is replaced by the completion "
        "code. Empty: Prolific's own address for a Prolific study, a thank-you page otherwise.",
    )
    release_code = forms.CharField(
        required=False,
        max_length=CODE_MAX,
        help_text="Given to people released from the waiting pool, so they can be paid.",
    )
    exclusion_count = forms.IntegerField(
        label="Members left out in the exclusion condition",
        required=False,
        min_value=0,
        max_value=GROUP_SIZE_MAX - 1,
        initial=_default("exclusion_count"),
        help_text="Per round, at random and silently; fewer than the minimum group size. "
        f"Empty: {_default('exclusion_count')}.",
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

    def clean_picked_questions(self) -> list[Question]:
        return _saved_questions(self.cleaned_data["picked_questions"] or [])

    def clean_existing_question_ids(self) -> list[Question]:
        raw = self.cleaned_data["existing_question_ids"]
        return _saved_questions([t for t in re.split(r"[\s,;]+", raw) if t])

    def clean(self):
        cleaned = super().clean()
        sources = ("question_lines", "picked_questions", "existing_question_ids")
        if all(name in cleaned and not cleaned[name] for name in sources):
            self.add_error(
                "question_lines",
                "Add at least one question: write one, tick a saved one or give a saved id.",
            )
        return cleaned

    def service_kwargs(self) -> dict:
        """The cleaned data as `deliberation_create` keyword arguments (no conditions)."""
        data = self.cleaned_data
        saved = [*data["picked_questions"], *data["existing_question_ids"]]
        new = data["question_lines"]
        return {
            "title": data["title"],
            "description": data["description"],
            "language": data["language"] or _default("language"),
            "questions": [*saved, *new] if data["saved_first"] else [*new, *saved],
            "group_size": data["group_size"],
            "min_group_size": data["min_group_size"],
            "n_candidates": data["n_candidates"],
            "aggregation": data["aggregation"],
            "alpha": data["alpha"],
            "critique_iterations": data["critique_iterations"],
            "opinion_seconds": data["opinion_minutes"] * 60,
            "critique_seconds": data["critique_minutes"] * 60,
            "rating_seconds": data["rating_minutes"] * 60,
            "pool_wait_seconds": _or(data["pool_wait_minutes"], _default("pool_wait_seconds") // 60)
            * 60,
            "dropout_seconds": _or(data["dropout_seconds"], _default("dropout_seconds")),
            "fill_with_bots": data["fill_with_bots"],
            "position_ratings": data["position_ratings"],
            "survey_items": data["survey_text"],
            "panel": data["panel"] or _default("panel"),
            "completion_code": data["completion_code"],
            "completion_url": data["completion_url"],
            "release_code": data["release_code"],
            "exclusion_count": _or(data["exclusion_count"], _default("exclusion_count")),
        }

    def add_domain_error(self, code: str, message: str) -> None:
        self.add_error(DOMAIN_ERROR_FIELDS.get(code), message)


def setup_initial(deliberation: Deliberation) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A deliberation's set-up as the set-up page shows it to edit: the initial values of
    `DeliberationCreateForm` (its questions as saved questions picked in order) and of each
    condition row (`service_kwargs` reversed)."""
    config = deliberation.mediation_config or {}
    stored = {field.name for field in Deliberation._meta.concrete_fields}
    # The fields named as the model's hold its value as it is; the others are converted.
    initial: dict[str, Any] = {
        name: getattr(deliberation, name)
        for name in DeliberationCreateForm.base_fields
        if name in stored
    }
    initial.update(
        picked_questions=list(
            deliberation.question_links.order_by("position").values_list("question_id", flat=True)
        ),
        n_candidates=config.get("n_candidates", MediationConfig.n_candidates),
        aggregation=config.get("aggregation", MediationConfig.aggregation),
        alpha=config.get("alpha", MediationConfig.alpha),
        opinion_minutes=deliberation.opinion_seconds // 60,
        critique_minutes=deliberation.critique_seconds // 60,
        rating_minutes=deliberation.rating_seconds // 60,
        pool_wait_minutes=deliberation.pool_wait_seconds // 60,
        survey_text=survey_lines(deliberation.survey_items),
    )
    rows = [condition_initial(c) for c in deliberation.conditions.order_by("id")]
    return initial, rows


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def picked_question_ids(data) -> list[int]:
    """The saved questions ticked so far in the picker (well-formed ids only), in order."""
    return [int(v) for v in data.getlist("picked_questions") if v.isdigit()]


def _saved_questions(tokens: list[str]) -> list[Question]:
    """Saved questions by id, in the order given, each once."""
    bad = [str(t) for t in tokens if not str(t).isdigit()]
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


def _posted(form_class: type[forms.Form], data, prefix: str | None = None) -> dict[str, Any]:
    """What was posted for each field of `form_class`, as the widgets read it, to show again
    as initial values of an unbound form (a round trip that must not show errors yet)."""
    bound = form_class(data, prefix=prefix)
    return {name: bound[name].data for name in bound.fields}


ADD_CONDITION = "add_condition"
REMOVE_CONDITION = "remove_condition-"  # + the row's index
SEARCH = "search"


def is_round_trip(action: str) -> bool:
    """Whether a posted `action` only shows the page again (search, add or remove a condition
    row) rather than saving."""
    return action in (SEARCH, ADD_CONDITION) or action.startswith(REMOVE_CONDITION)


def _posted_rows(data) -> int:
    """How many condition rows the page posted (its management form), within bounds."""
    try:
        rows = int(data.get(f"{CONDITION_PREFIX}-{TOTAL_FORM_COUNT}") or 0)
    except ValueError:
        rows = 0
    return max(0, min(rows, CONDITIONS_MAX))


def _with_management_form(data):
    """`data` as the formset reads it. A post with no condition fields at all (a client that
    sets no conditions) gets an empty management form; one with condition fields but no
    management form is left as it is, and the formset reports it."""
    key = f"{CONDITION_PREFIX}-{TOTAL_FORM_COUNT}"
    if key in data or any(name.startswith(f"{CONDITION_PREFIX}-") for name in data):
        return data
    data = data.copy()
    data[key] = "0"
    data[f"{CONDITION_PREFIX}-{INITIAL_FORM_COUNT}"] = "0"
    return data


class DeliberationSetup:
    """The set-up page's forms: the deliberation's (`form`) and the condition rows, a formset of
    `ConditionForm`s (`conditions`).

    - `data=None`: a page not posted yet, filled with `initial` (the form's) and one row per
      dict of `condition_rows` (at least `CONDITION_ROWS_INITIAL`, empty ones added).
    - `action` a round trip (`is_round_trip`: a search without JavaScript, adding a condition
      row, removing one): the forms are unbound, filled with what was posted, and show no
      errors yet; the row added is focused, the one removed is gone.
    - otherwise the forms are bound and validated (`is_valid`).
    """

    def __init__(
        self,
        data=None,
        *,
        action: str = "",
        initial: dict[str, Any] | None = None,
        condition_rows: list[dict[str, Any]] | None = None,
    ):
        self.data = data
        self.condition_errors: list[str] = []
        self.removed: int | None = None  # the number (1-based) of the row just removed
        focus = None
        if data is None:
            rows = list(condition_rows or [])
            rows += [{} for _ in range(CONDITION_ROWS_INITIAL - len(rows))]
            self.form = DeliberationCreateForm(initial=initial)
            self.conditions = ConditionFormSet(initial=rows, prefix=CONDITION_PREFIX)
        elif is_round_trip(action):
            rows = [
                _posted(ConditionForm, data, f"{CONDITION_PREFIX}-{index}")
                for index in range(_posted_rows(data))
            ]
            if action == ADD_CONDITION and len(rows) < CONDITIONS_MAX:
                rows.append({})
                focus = len(rows) - 1
            elif action.startswith(REMOVE_CONDITION):
                index = action.removeprefix(REMOVE_CONDITION)
                if index.isdigit() and int(index) < len(rows):
                    del rows[int(index)]
                    self.removed = int(index) + 1
                    focus = min(int(index), len(rows) - 1) if rows else None
            self.form = DeliberationCreateForm(initial=_posted(DeliberationCreateForm, data))
            self.conditions = ConditionFormSet(initial=rows, prefix=CONDITION_PREFIX)
        else:
            self.form = DeliberationCreateForm(data)
            self.conditions = ConditionFormSet(_with_management_form(data), prefix=CONDITION_PREFIX)
        if focus is not None:
            self.conditions[focus].fields["name"].widget.attrs["autofocus"] = True

    @property
    def can_add_row(self) -> bool:
        return self.conditions.total_form_count() < CONDITIONS_MAX

    @property
    def query(self) -> str:
        return (self.data.get("question_query", "") if self.data else "").strip()[:200]

    @property
    def picked_ids(self) -> list[int]:
        if self.data is None:
            return list(self.form.initial.get("picked_questions", []))
        return picked_question_ids(self.data)

    def is_valid(self) -> bool:
        conditions_valid = self.conditions.is_valid()
        return self.form.is_valid() and conditions_valid

    @property
    def error_count(self) -> int:
        rows = self.conditions.total_error_count() if self.conditions.is_bound else 0
        return len(self.form.errors) + rows + len(self.condition_errors)

    def service_kwargs(self) -> dict:
        """Everything `deliberation_create` takes, the filled condition rows in their order."""
        return {
            **self.form.service_kwargs(),
            "conditions": [row.to_condition() for row in self.conditions.filled_forms],
        }

    def add_domain_error(self, exc) -> None:
        """Show a refusal of the service next to the field it is about."""
        if isinstance(exc, ConditionError):
            filled = self.conditions.filled_forms
            if 0 <= exc.index < len(filled):
                filled[exc.index].add_error(CONDITION_ERROR_FIELDS.get(exc.field), exc.message)
                return
        if exc.code == "conditions" or isinstance(exc, ConditionError):
            self.condition_errors.append(exc.message)
            return
        self.form.add_domain_error(exc.code, exc.message)
