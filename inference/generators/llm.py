"""What the language-model generators (vLLM over HTTP, transformers in process) share.

Both draw sample `i` of a round from the same plan: its own opinion order
(`shuffled_order(seed, i)`), the prompt with the members in that order, and its own sampling seed
(`sample_seed(seed, i, attempt)`, a new one for each redraw after an unusable answer). Both parse
an answer into a candidate with the same provenance (`sample_candidate`), and read their options
the same strict way: an unknown option or a value of the wrong type is a `ConfigError`, not a
silent default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inference.base import Candidate, ConfigError, RoundText
from inference.prompts import (
    CRITIQUE_TEMPLATE_VERSION,
    CRITIQUE_TEMPLATES,
    OPINION_TEMPLATE_VERSION,
    OPINION_TEMPLATES,
    PARSE_MODES,
    Prompt,
    check_template_versions,
    parse_statement,
    round_prompt,
    sample_seed,
    shuffled_order,
)


@dataclass(frozen=True)
class SamplePlan:
    """Sample `sample_index` of a round: the opinion order and the prompt built with it.

    `iteration` is `"opinion"`, or `"critique"` when the round revises a previous winner.
    """

    sample_index: int
    order: list[int]
    prompt: Prompt
    iteration: str

    def seed(self, round_seed: int, attempt: int = 0) -> int:
        return sample_seed(round_seed, self.sample_index, attempt)


def plan_samples(
    round_text: RoundText,
    *,
    n: int,
    seed: int,
    opinion_template: str,
    critique_template: str,
) -> list[SamplePlan]:
    """The round's `n` samples, planned."""
    iteration = "critique" if round_text.is_critique else "opinion"
    plans = []
    for i in range(n):
        order = shuffled_order(len(round_text.opinions), seed, i)
        prompt = round_prompt(
            round_text,
            order=order,
            opinion_version=opinion_template,
            critique_version=critique_template,
        )
        plans.append(SamplePlan(sample_index=i, order=order, prompt=prompt, iteration=iteration))
    return plans


def sample_candidate(
    *,
    plan: SamplePlan,
    raw: Any,
    finish_reason: str | None,
    parse_mode: str,
    backend: str,
    model: str | None,
    round_seed: int,
    seed: int,
    attempts: int,
    **extra: Any,
) -> Candidate:
    """The candidate in one sample's answer `raw`, with its provenance record (see
    `inference.base.Candidate`; `extra` is added to it).

    Raises `BadModelOutput` when `parse_statement` (in `parse_mode`) refuses the answer.
    """
    text = parse_statement(raw, finish_reason=finish_reason, mode=parse_mode)
    record = {
        "backend": backend,
        "model": model,
        "template_version": plan.prompt.version,
        "seed": seed,
        "round_seed": round_seed,
        "sample_index": plan.sample_index,
        "opinion_order": list(plan.order),
        "raw": raw,
        "finish_reason": finish_reason,
        "attempts": attempts,
        "iteration": plan.iteration,
    }
    record.update(extra)
    return Candidate(text=text, provenance=record)


# The options `BackendConfig` documents as common to backends (some set from the environment for
# whichever backend is chosen); a backend they do not apply to ignores them instead of failing.
COMMON_OPTIONS = frozenset(
    {"timeout", "retries", "temperature", "max_tokens", "template_version", "device", "api_key"}
)


class Options:
    """Typed, strict reading of `BackendConfig.options` for one backend."""

    def __init__(self, options: Mapping[str, Any], backend: str):
        self._options = dict(options or {})
        self._backend = backend
        self._read: set[str] = set()

    def _raw(self, name: str) -> Any:
        self._read.add(name)
        return self._options.get(name)

    def number(
        self,
        name: str,
        default: float | None,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> float | None:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise ConfigError(f"{self._backend} option {name!r} must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{self._backend} option {name!r} must be a number, not {value!r}"
            ) from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise ConfigError(
                f"{self._backend} option {name!r} must lie in [{low}, {high}], not {number:g}"
            )
        return number

    def whole(self, name: str, default: int | None, *, low: int | None = None) -> int | None:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{self._backend} option {name!r} must be a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{self._backend} option {name!r} must be a whole number, not {value!r}"
            ) from None
        if low is not None and number < low:
            raise ConfigError(f"{self._backend} option {name!r} must be >= {low}, not {number}")
        return number

    def text(
        self, name: str, default: str | None, *, choices: Iterable[str] | None = None
    ) -> str | None:
        value = self._raw(name)
        if value is None:
            return default
        value = str(value)
        if choices is not None and value not in set(choices):
            raise ConfigError(
                f"{self._backend} option {name!r} must be one of {', '.join(choices)}, "
                f"not {value!r}"
            )
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{self._backend} option {name!r} must be true or false, not {value!r}")

    def words(self, name: str) -> list[str] | None:
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(f"{self._backend} option {name!r} must be a string or a list of them")

    def templates(self) -> tuple[str, str]:
        """`(opinion_template, critique_template)` from `opinion_template`, `critique_template`
        or the common `template_version` (a full name such as "critique-v1", or a family
        suffix such as "v1" for both)."""
        opinion = self.text("opinion_template", OPINION_TEMPLATE_VERSION)
        critique = self.text("critique_template", CRITIQUE_TEMPLATE_VERSION)
        family = self.text("template_version", None)
        if family is not None:
            if family in OPINION_TEMPLATES:
                opinion = family
            elif family in CRITIQUE_TEMPLATES:
                critique = family
            elif f"opinion-{family}" in OPINION_TEMPLATES and f"critique-{family}" in (
                CRITIQUE_TEMPLATES
            ):
                opinion, critique = f"opinion-{family}", f"critique-{family}"
            else:
                raise ConfigError(f"unknown template_version {family!r}")
        check_template_versions(opinion, critique)
        return opinion, critique  # type: ignore[return-value]

    def parse_mode(self) -> str:
        return self.text("parse_mode", "tagged", choices=PARSE_MODES)  # type: ignore[return-value]

    def finish(self, *, ignored: Iterable[str] = ()) -> None:
        """Refuse options nobody read (typos), except the common ones listed in `ignored`."""
        unknown = set(self._options) - self._read - set(ignored)
        if unknown:
            known = ", ".join(sorted(self._read))
            raise ConfigError(
                f"unknown {self._backend} option(s): {', '.join(sorted(unknown))}; "
                f"this backend reads {known}"
            )
