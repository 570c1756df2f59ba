"""The parts of a study's set-up that need more than a range check: its conditions (with their
mediation overrides), the end-of-round survey, and the panel's codes and completion address.

Each `*_clean` function returns the value in its stored shape or raises `DomainError` (for a
condition, `ConditionError`, which says which condition and field); nothing here writes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from deliberation.errors import DomainError
from deliberation.models import SURVEY_KINDS, Deliberation, default_survey_items
from deliberation.selectors.model_versions import PIN_KEY, reward_version_get
from inference.aggregation import check_alpha
from inference.base import ConfigError
from inference.comparisons import baseline_config as baseline_mediation_config
from inference.config import GENERATOR_BACKENDS, REWARD_BACKENDS, MediationConfig

N_CANDIDATES_MAX = 64
AGGREGATIONS = ("welfare", "schulze")

CONDITIONS_MAX = 8
CONDITION_NAME_MAX = 64
CONDITION_DESCRIPTION_MAX = 500
# What a condition may show beside the winner (`services.conditions` shows them).
COMPARISONS = ("best_opinion", "baseline")
# The keys of `MediationConfig.from_dict` a condition may override. `seed` is left out on
# purpose: every iteration is seeded by its own id (`mediator.iteration_config`).
# `reward_model_version` pins a registered reward model (`services.model_versions`).
MEDIATION_OVERRIDE_KEYS = (
    "n_candidates",
    "aggregation",
    "alpha",
    "generator",
    "reward",
    PIN_KEY,
)
BACKEND_OVERRIDE_KEYS = ("backend", "model", "url")
MODEL_NAME_MAX = 200
BACKEND_URL_MAX = 500

SURVEY_ITEMS_MAX = 10
SURVEY_KEY_MAX = 40
SURVEY_TEXT_MAX = 500
CODE_MAX = 64
COMPLETION_URL_MAX = 500
CODE_PLACEHOLDER = "{code}"
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]*\Z")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_http_url = URLValidator(schemes=["http", "https"])


class ConditionError(DomainError):
    """A condition the rules refuse; `index` is its place in the list given (0-based) and
    `field` the key to fix ("name", "description", "mediation_config", "comparisons",
    "baseline_config", "exclusion"; for one mediation setting "mediation_config.<key>" or
    "baseline_config.<key>"; "fields" for a condition that is not an object of those). The
    `code` is "condition_<field>" with dots as underscores."""

    def __init__(self, message: str, *, index: int, field: str):
        super().__init__(message, code="condition_" + field.replace(".", "_"))
        self.index = index
        self.field = field


def survey_items_clean(items: Sequence[Mapping[str, Any]] | None) -> list[dict]:
    """The survey items, checked and in their stored shape; `None` is the default survey."""
    if items is None:
        return default_survey_items()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise DomainError("The survey must be a list of items.", code="survey_items")
    if len(items) > SURVEY_ITEMS_MAX:
        raise DomainError(
            f"A survey can have at most {SURVEY_ITEMS_MAX} items; this one has {len(items)}.",
            code="survey_items",
        )
    stored: list[dict] = []
    for number, item in enumerate(items, 1):
        refuse = partial(_survey_error, number)
        if not isinstance(item, Mapping):
            raise refuse('it must be an object with "key", "text", "kind" and "required".')
        unknown = set(item) - {"key", "text", "kind", "required"}
        if unknown:
            raise refuse(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}.")
        key, text = item.get("key"), item.get("text")
        kind, required = item.get("kind"), item.get("required", True)
        if not isinstance(key, str) or not _SLUG_RE.match(key) or len(key) > SURVEY_KEY_MAX:
            raise refuse(
                f"the key must be 1 to {SURVEY_KEY_MAX} lower-case letters, digits, - or _, "
                "starting with a letter or digit."
            )
        if key in {s["key"] for s in stored}:
            raise refuse(f"the key {key!r} is used twice; keys must be unique.")
        if not isinstance(text, str) or not text.strip():
            raise refuse("the text cannot be empty.")
        text = text.strip()
        if len(text) > SURVEY_TEXT_MAX:
            raise refuse(
                f"the text can be at most {SURVEY_TEXT_MAX} characters; it has {len(text):,}."
            )
        if kind not in SURVEY_KINDS:
            raise refuse(f"the kind must be one of: {', '.join(SURVEY_KINDS)}.")
        if not isinstance(required, bool):
            raise refuse('"required" must be true or false.')
        stored.append({"key": key, "text": text, "kind": kind, "required": required})
    return stored


def _survey_error(number: int, problem: str) -> DomainError:
    return DomainError(f"Survey item {number}: {problem}", code="survey_items")


def panel_settings_clean(
    panel: str, completion_code: str, completion_url: str, release_code: str
) -> tuple[str, str, str, str]:
    """The panel and its codes, trimmed: codes of letters, digits, - and _ (they go into web
    addresses); a completion URL that is http(s) with at most the `{code}` placeholder; a
    completion code wherever one will be needed (Prolific, or `{code}` in the URL)."""
    if panel not in Deliberation.Panel.values:
        raise DomainError(
            f"The panel must be one of: {', '.join(Deliberation.Panel.values)}.", code="panel"
        )
    codes = []
    for value, code, label in (
        (completion_code, "completion_code", "The completion code"),
        (release_code, "release_code", "The release code"),
    ):
        if not isinstance(value, str):
            raise DomainError(f"{label} must be text.", code=code)
        value = value.strip()
        if len(value) > CODE_MAX:
            raise DomainError(f"{label} can be at most {CODE_MAX} characters.", code=code)
        if not _CODE_RE.match(value):
            raise DomainError(
                f"{label} may use only letters, digits, - and _ (it goes into a web address).",
                code=code,
            )
        codes.append(value)
    completion_code, release_code = codes
    if not isinstance(completion_url, str):
        raise DomainError("The completion URL must be text.", code="completion_url")
    completion_url = completion_url.strip()
    if len(completion_url) > COMPLETION_URL_MAX:
        raise DomainError(
            f"The completion URL can be at most {COMPLETION_URL_MAX} characters.",
            code="completion_url",
        )
    if completion_url:
        probe = completion_url.replace(CODE_PLACEHOLDER, "CODE")
        if "{" in probe or "}" in probe:
            raise DomainError(
                f"The completion URL may contain {CODE_PLACEHOLDER} and no other braces.",
                code="completion_url",
            )
        try:
            _http_url(probe)
        except ValidationError:
            raise DomainError(
                "The completion URL must be a full web address starting with http:// or https://.",
                code="completion_url",
            ) from None
    if panel == Deliberation.Panel.PROLIFIC and not completion_code:
        raise DomainError(
            "A Prolific study needs its completion code: Prolific shows it in the study's "
            "settings.",
            code="completion_code",
        )
    if CODE_PLACEHOLDER in completion_url and not completion_code:
        raise DomainError(
            f"The completion URL contains {CODE_PLACEHOLDER}; give the completion code too.",
            code="completion_code",
        )
    return panel, completion_code, completion_url, release_code


class _Invalid(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def conditions_clean(
    conditions: Sequence[Mapping[str, Any]], deliberation_config: Mapping[str, Any]
) -> list[dict]:
    """The conditions, checked and as `Condition` field values, in the order given (the shape
    is in `services.deliberations.deliberation_create`). Mediation overrides are checked over
    the default config with `deliberation_config` on top, the one the mediator starts from."""
    if conditions is None:
        return []
    if isinstance(conditions, (str, bytes, Mapping)) or not isinstance(conditions, Sequence):
        raise DomainError("Conditions must be a list.", code="conditions")
    if len(conditions) > CONDITIONS_MAX:
        raise DomainError(
            f"A deliberation can have at most {CONDITIONS_MAX} conditions; "
            f"there are {len(conditions)}.",
            code="conditions",
        )
    base = MediationConfig().merged(deliberation_config)
    arms: list[dict] = []
    for index, raw in enumerate(conditions):
        label = f"Condition {index + 1}"
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) and raw["name"]:
            label += f" ({raw['name']})"
        try:
            arm = _condition(raw, base)
        except _Invalid as exc:
            raise ConditionError(f"{label}: {exc.message}", index=index, field=exc.field) from None
        taken = {other["name"] for other in arms}
        if arm["name"] in taken:
            raise ConditionError(
                f"{label}: another condition already has this name; names must be unique.",
                index=index,
                field="name",
            )
        arms.append(arm)
    return arms


def _condition(raw: Mapping[str, Any], base: MediationConfig) -> dict:
    if not isinstance(raw, Mapping):
        raise _Invalid("fields", "a condition must be an object with at least a name.")
    allowed = ("name", "description", "mediation_config", "comparisons", "baseline_config")
    unknown = set(raw) - {*allowed, "exclusion"}
    if unknown:
        raise _Invalid(
            "fields",
            f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; a condition has: "
            f"{', '.join(allowed)}, exclusion.",
        )
    name = raw.get("name")
    if (
        not isinstance(name, str)
        or not _SLUG_RE.match(name.strip())
        or len(name.strip()) > CONDITION_NAME_MAX
    ):
        raise _Invalid(
            "name",
            f"the name must be 1 to {CONDITION_NAME_MAX} lower-case letters, digits, - or _, "
            "starting with a letter or digit (for example baseline or no-rerank).",
        )
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise _Invalid("description", "the description must be text.")
    description = description.strip()
    if len(description) > CONDITION_DESCRIPTION_MAX:
        raise _Invalid(
            "description",
            f"the description can be at most {CONDITION_DESCRIPTION_MAX} characters; "
            f"it has {len(description):,}.",
        )
    mediation_config = _mediation_overrides(raw.get("mediation_config"), "mediation_config", base)
    comparisons = raw.get("comparisons") or []
    if isinstance(comparisons, (str, bytes, Mapping)) or not isinstance(comparisons, Sequence):
        raise _Invalid("comparisons", f"comparisons must be a list of: {', '.join(COMPARISONS)}.")
    unknown = [c for c in comparisons if c not in COMPARISONS]
    if unknown:
        raise _Invalid(
            "comparisons",
            f"unknown comparison {unknown[0]!r}; choose from: {', '.join(COMPARISONS)}.",
        )
    comparisons = [c for c in COMPARISONS if c in comparisons]
    condition_config = base.merged({k: v for k, v in mediation_config.items() if k != PIN_KEY})
    baseline_config = _mediation_overrides(
        raw.get("baseline_config"),
        "baseline_config",
        baseline_mediation_config(condition_config, None),
    )
    if baseline_config and "baseline" not in comparisons:
        raise _Invalid(
            "baseline_config",
            'a baseline config is used only with the "baseline" comparison; tick it or leave '
            "the baseline settings empty.",
        )
    exclusion = raw.get("exclusion", False)
    if not isinstance(exclusion, bool):
        raise _Invalid("exclusion", '"exclusion" must be true or false.')
    return {
        "name": name.strip(),
        "description": description,
        "mediation_config": mediation_config,
        "comparisons": comparisons,
        "baseline_config": baseline_config,
        "exclusion": exclusion,
    }


def _mediation_overrides(raw: Any, where: str, base: MediationConfig) -> dict:
    """Overrides in the shape `MediationConfig.merged` reads, checked field by field and then
    as a whole over `base`; a backend given by name alone becomes `{"backend": name}`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _Invalid(where, "the mediation settings must be an object of overrides.")
    unknown = set(raw) - set(MEDIATION_OVERRIDE_KEYS)
    if unknown:
        raise _Invalid(
            where,
            f"unknown mediation setting(s) {', '.join(sorted(map(str, unknown)))}; "
            f"the mediator reads: {', '.join(MEDIATION_OVERRIDE_KEYS)}.",
        )
    overrides: dict[str, Any] = {}
    if "n_candidates" in raw:
        value = raw["n_candidates"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"{where}.n_candidates", "N must be a whole number.")
        if not 1 <= value <= N_CANDIDATES_MAX:
            raise _Invalid(
                f"{where}.n_candidates",
                f"N must be from 1 (no reranking) to {N_CANDIDATES_MAX}; it is {value}.",
            )
        overrides["n_candidates"] = value
    if "aggregation" in raw:
        if raw["aggregation"] not in AGGREGATIONS:
            raise _Invalid(
                f"{where}.aggregation",
                f"unknown aggregation {raw['aggregation']!r}; choose from: "
                f"{', '.join(AGGREGATIONS)}.",
            )
        overrides["aggregation"] = raw["aggregation"]
    if "alpha" in raw:
        overrides["alpha"] = _alpha_override(raw["alpha"], f"{where}.alpha")
    for role, registry in (("generator", GENERATOR_BACKENDS), ("reward", REWARD_BACKENDS)):
        if role in raw:
            backend = _backend_override(raw[role], f"{where}.{role}", role, registry)
            if backend:
                overrides[role] = backend
    try:
        base.merged(overrides)
    except ConfigError as exc:
        raise _Invalid(where, f"the mediator refuses these settings: {exc}.") from None
    if raw.get(PIN_KEY) is not None:
        if where != "mediation_config":
            raise _Invalid(f"{where}.{PIN_KEY}", "a reward model version is pinned per condition.")
        try:
            overrides[PIN_KEY] = reward_version_get(raw[PIN_KEY]).pk
        except DomainError as exc:
            raise _Invalid(f"{where}.{PIN_KEY}", exc.message) from None
    return overrides


def _alpha_override(value: Any, field: str) -> float | str:
    try:
        alpha = check_alpha(value, text=True)
    except ValueError:
        raise _Invalid(
            field, 'alpha must be a number of 0 or more, or "inf" for the minimum.'
        ) from None
    return "inf" if math.isinf(alpha) else alpha


def _backend_override(value: Any, field: str, role: str, registry: Mapping[str, str]) -> dict:
    if isinstance(value, str):
        value = {"backend": value}
    if not isinstance(value, Mapping):
        raise _Invalid(
            field, f'the {role} must be a backend name or {{"backend", "model", "url"}}.'
        )
    unknown = set(value) - set(BACKEND_OVERRIDE_KEYS)
    if unknown:
        raise _Invalid(
            field,
            f"unknown {role} setting(s) {', '.join(sorted(map(str, unknown)))}; a condition "
            f"may set: {', '.join(BACKEND_OVERRIDE_KEYS)} (options and keys stay in the "
            "server's environment).",
        )
    backend: dict[str, str] = {}
    for key, limit in (("backend", 64), ("model", MODEL_NAME_MAX), ("url", BACKEND_URL_MAX)):
        item = value.get(key)
        if item is None:
            continue
        if not isinstance(item, str):
            raise _Invalid(field, f"the {role} {key} must be text.")
        item = item.strip()
        if len(item) > limit:
            raise _Invalid(field, f"the {role} {key} can be at most {limit} characters.")
        if item:
            backend[key] = item
    if "backend" in backend and backend["backend"] not in registry:
        raise _Invalid(
            field,
            f"unknown {role} backend {backend['backend']!r}; choose from: {', '.join(registry)}.",
        )
    if "url" in backend:
        try:
            _http_url(backend["url"])
        except ValidationError:
            raise _Invalid(field, f"the {role} URL must start with http:// or https://.") from None
    return backend
