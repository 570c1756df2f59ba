"""The condition rows of the moderator's set-up page: a Django formset (`ConditionFormSet`) of
one `ConditionForm` per experimental condition, whose empty fields inherit the deliberation's
settings. They check shape; the rules live in `services.study_settings`, whose `ConditionError`
fields `CONDITION_ERROR_FIELDS` maps back to the field of the row the moderator has to fix."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django import forms

from deliberation.models import Condition
from deliberation.services.study_settings import (
    AGGREGATIONS,
    COMPARISONS,
    CONDITION_DESCRIPTION_MAX,
    CONDITION_NAME_MAX,
    CONDITIONS_MAX,
    MODEL_NAME_MAX,
    N_CANDIDATES_MAX,
)
from inference.aggregation import check_alpha
from inference.comparisons import BASELINE_N_CANDIDATES
from inference.config import GENERATOR_BACKENDS, REWARD_BACKENDS

AGGREGATION_LABELS = {
    "welfare": "Welfare (predicted agreement, inequality aversion alpha)",
    "schulze": "Schulze (predicted rankings)",
}
COMPARISON_LABELS = {
    "best_opinion": "The group's best opinion (highest predicted welfare)",
    "baseline": "A baseline model's statement (N = 1 unless set below)",
}
# `ConditionError.field` -> the field of `ConditionForm` that shows it (None: the whole row).
CONDITION_ERROR_FIELDS = {
    "name": "name",
    "description": "description",
    "mediation_config.n_candidates": "n_candidates",
    "mediation_config.aggregation": "aggregation",
    "mediation_config.alpha": "alpha",
    "mediation_config.generator": "generator_backend",
    "mediation_config.reward": "reward_backend",
    "comparisons": "comparisons",
    "baseline_config.n_candidates": "baseline_n_candidates",
    "baseline_config.generator": "baseline_generator_backend",
    "exclusion": "exclusion",
}


class AlphaField(forms.CharField):
    """Alpha of a condition: empty (the deliberation's), a number >= 0, or "inf"."""

    def clean(self, value) -> float | str | None:
        value = super().clean(value).strip()
        if not value:
            return None
        try:
            alpha = check_alpha(value, text=True)
        except ValueError:
            raise forms.ValidationError('Alpha is a number of 0 or more, or "inf".') from None
        return "inf" if math.isinf(alpha) else alpha


def _backend_choices(registry: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("", "As the deliberation"), *((name, name) for name in registry)]


class ConditionForm(forms.Form):
    """One condition row of the create page. Empty fields inherit the deliberation's setting;
    a row left entirely empty is ignored."""

    name = forms.CharField(
        required=False,
        max_length=CONDITION_NAME_MAX,
        help_text="Lower-case letters, digits, - and _, e.g. exclusion or no-rerank.",
    )
    description = forms.CharField(required=False, max_length=CONDITION_DESCRIPTION_MAX)
    n_candidates = forms.IntegerField(
        label="N (candidates)",
        required=False,
        min_value=1,
        max_value=N_CANDIDATES_MAX,
        help_text="1 = no reranking.",
    )
    aggregation = forms.ChoiceField(
        required=False,
        choices=[("", "As the deliberation")]
        + [(name, AGGREGATION_LABELS[name]) for name in AGGREGATIONS],
    )
    alpha = AlphaField(required=False, max_length=20, help_text='A number >= 0, or "inf".')
    comparisons = forms.MultipleChoiceField(
        label="Shown beside the winner",
        required=False,
        choices=[(name, COMPARISON_LABELS[name]) for name in COMPARISONS],
        widget=forms.CheckboxSelectMultiple,
    )
    exclusion = forms.BooleanField(
        label="Exclusion: mediate without some members (chosen at random, silently)",
        required=False,
    )
    generator_backend = forms.ChoiceField(
        label="Generator backend", required=False, choices=_backend_choices(GENERATOR_BACKENDS)
    )
    generator_model = forms.CharField(
        label="Generator model", required=False, max_length=MODEL_NAME_MAX
    )
    reward_backend = forms.ChoiceField(
        label="Reward backend", required=False, choices=_backend_choices(REWARD_BACKENDS)
    )
    reward_model = forms.CharField(label="Reward model", required=False, max_length=MODEL_NAME_MAX)
    baseline_n_candidates = forms.IntegerField(
        label="Baseline N",
        required=False,
        min_value=1,
        max_value=N_CANDIDATES_MAX,
        help_text=f"Empty: {BASELINE_N_CANDIDATES}.",
    )
    baseline_generator_backend = forms.ChoiceField(
        label="Baseline generator backend",
        required=False,
        choices=_backend_choices(GENERATOR_BACKENDS),
    )
    baseline_generator_model = forms.CharField(
        label="Baseline generator model", required=False, max_length=MODEL_NAME_MAX
    )

    MODEL_FIELDS = (
        "generator_backend",
        "generator_model",
        "reward_backend",
        "reward_model",
        "baseline_n_candidates",
        "baseline_generator_backend",
        "baseline_generator_model",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_permitted", True)
        kwargs.setdefault("use_required_attribute", False)
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("name") and "name" not in self.errors:
            self.add_error("name", "Give the condition a name, or empty the whole row.")
        return cleaned

    @property
    def models_open(self) -> bool:
        """Whether the row's optional model settings hold anything (show them unfolded)."""
        if self.is_bound:
            values = {name: self[name].data for name in self.MODEL_FIELDS}
        else:
            values = self.initial
        return any(values.get(name) for name in self.MODEL_FIELDS) or any(
            name in self.errors for name in self.MODEL_FIELDS
        )

    def to_condition(self) -> dict[str, Any]:
        """The row as a `deliberation_create` condition."""
        data = self.cleaned_data
        mediation: dict[str, Any] = {}
        if data["n_candidates"] is not None:
            mediation["n_candidates"] = data["n_candidates"]
        if data["aggregation"]:
            mediation["aggregation"] = data["aggregation"]
        if data["alpha"] is not None:
            mediation["alpha"] = data["alpha"]
        for role in ("generator", "reward"):
            backend = _backend(data[f"{role}_backend"], data[f"{role}_model"])
            if backend:
                mediation[role] = backend
        baseline: dict[str, Any] = {}
        if data["baseline_n_candidates"] is not None:
            baseline["n_candidates"] = data["baseline_n_candidates"]
        backend = _backend(data["baseline_generator_backend"], data["baseline_generator_model"])
        if backend:
            baseline["generator"] = backend
        return {
            "name": data["name"],
            "description": data["description"],
            "mediation_config": mediation,
            "comparisons": list(data["comparisons"]),
            "baseline_config": baseline,
            "exclusion": data["exclusion"],
        }


class BaseConditionFormSet(forms.BaseFormSet):
    """The condition rows, in order. A row left entirely empty is ignored (`filled_forms`);
    `clean` checks across the rows what a single row cannot: no two filled rows share a name
    (the service refuses that too, for its other callers)."""

    default_error_messages = {
        "too_many_forms": f"A deliberation can have at most {CONDITIONS_MAX} conditions.",
    }

    @property
    def filled_forms(self) -> list[ConditionForm]:
        """The rows the moderator filled in, in order (the conditions to create)."""
        return [form for form in self.forms if form.has_changed()]

    def clean(self) -> None:
        seen: set[str] = set()
        for form in self.filled_forms:
            name = form.cleaned_data.get("name") if not form.errors else None
            if not name:
                continue
            if name in seen:
                form.add_error(
                    "name",
                    f"Another condition is already called {name!r}; names must be unique.",
                )
            seen.add(name)


ConditionFormSet = forms.formset_factory(
    ConditionForm,
    formset=BaseConditionFormSet,
    extra=0,
    max_num=CONDITIONS_MAX,
    absolute_max=CONDITIONS_MAX,
    validate_max=True,
)


def condition_initial(condition: Condition) -> dict[str, Any]:
    """A stored condition as the values of its `ConditionForm` row (`to_condition` reversed)."""
    mediation = condition.mediation_config or {}
    baseline = condition.baseline_config or {}
    alpha = mediation.get("alpha")
    initial: dict[str, Any] = {
        "name": condition.name,
        "description": condition.description,
        "n_candidates": mediation.get("n_candidates"),
        "aggregation": mediation.get("aggregation", ""),
        "alpha": "" if alpha is None else str(alpha),
        "comparisons": list(condition.comparisons or []),
        "exclusion": condition.exclusion,
        "baseline_n_candidates": baseline.get("n_candidates"),
    }
    for prefix, config, role in (
        ("", mediation, "generator"),
        ("", mediation, "reward"),
        ("baseline_", baseline, "generator"),
    ):
        backend = config.get(role) or {}
        if isinstance(backend, str):
            backend = {"backend": backend}
        initial[f"{prefix}{role}_backend"] = backend.get("backend", "")
        initial[f"{prefix}{role}_model"] = backend.get("model", "")
    return initial


def _backend(name: str, model: str) -> dict[str, str]:
    return {key: value for key, value in (("backend", name), ("model", model)) if value}
