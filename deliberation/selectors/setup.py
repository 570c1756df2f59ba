"""A deliberation's whole set-up, as its moderator's page shows it (read-only)."""

from dataclasses import dataclass

from deliberation.models import Deliberation


@dataclass(frozen=True)
class ConditionSetup:
    name: str
    description: str
    overrides: list[str]  # "generator.backend = vllm", one per overridden setting
    comparisons: list[str]
    baseline: list[str]
    exclusion: bool


def _flatten(config: dict, prefix: str = "") -> list[str]:
    lines = []
    for key in sorted(config):
        value = config[key]
        if isinstance(value, dict) and value:
            lines += _flatten(value, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key} = {value}")
    return lines


def setup_editable(deliberation: Deliberation) -> bool:
    """Whether the set-up may still be edited: nobody has joined (what the pages offer; the
    service decides under the row lock, `deliberation_setup_update`)."""
    return not deliberation.participants.exists()


def deliberation_conditions(deliberation: Deliberation) -> list[ConditionSetup]:
    """Each condition with what it changes from the deliberation's mediation, in order."""
    return [
        ConditionSetup(
            name=condition.name,
            description=condition.description,
            overrides=_flatten(condition.mediation_config or {}),
            comparisons=list(condition.comparisons or []),
            baseline=_flatten(condition.baseline_config or {}),
            exclusion=condition.exclusion,
        )
        for condition in deliberation.conditions.order_by("id")
    ]
