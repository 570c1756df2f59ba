"""The reward-model registry: trained models become `ModelVersion`s, one is promoted as the default
for new mediations when it beats the model now serving on held-out questions, and a deliberation
or condition can pin a version.

How the mediation picks the reward model (`deliberation.mediator.iteration_config`): the server's
config (environment), replaced by the promoted version when there is one, then the
deliberation's overrides, then the condition's; at either level `"reward_model_version": ID`
pins that version (and a plain `"reward"` override sets a backend instead, from the server's).
The candidate set records the version that scored it (`CandidateSet.reward_model`).

The gate (`reward_model_promote`): a version is promoted only when its held-out mean absolute
error is lower than that of the model serving when it was trained (both measured on the same
held-out questions, `metrics.heldout`), and that model still serves; otherwise
`PromotionRefused` says by how much. `force` promotes anyway and writes the refusal into the
audit log beside the promotion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Condition, Deliberation, ModelVersion
from deliberation.selectors.model_versions import (
    PIN_KEY,
    promoted_reward_model,
    reward_version_get,
)

GATE_METRIC = "mae"


class PromotionRefused(DomainError):
    """The version does not beat the serving model on held-out questions (or cannot be compared);
    `margin` is trained minus serving MAE when both are known."""

    def __init__(self, message: str, *, margin: float | None = None):
        super().__init__(message, code="promotion_refused", status=409)
        self.margin = margin


@transaction.atomic
def reward_model_register(
    *,
    kind: str,
    directory: Path,
    config: Mapping[str, Any],
    description: Mapping[str, Any],
    metrics: Mapping[str, Any],
    provenance: Mapping[str, Any],
) -> ModelVersion:
    """Record a model `inference.training.train_reward_model` wrote, with its metrics. Its
    revision is the description's plus the export digest and a hash of the directory's path, so
    two trainings never share a row."""
    where = hashlib.sha256(str(Path(directory).resolve()).encode()).hexdigest()[:12]
    revision = (
        f"{description.get('revision', '')}@{str(provenance.get('export_digest', ''))[:12]}:{where}"
    )
    return ModelVersion.objects.create(
        role=ModelVersion.Role.REWARD,
        backend=str(config["backend"])[:32],
        name=str(description.get("model") or kind)[:200],
        revision=revision[:200],
        details={"kind": kind, "description": dict(description), "provenance": dict(provenance)},
        metrics=dict(metrics),
        status=ModelVersion.Status.TRAINED,
        path=str(directory)[:500],
        config=dict(config),
    )


def promotion_check(version: ModelVersion) -> dict[str, Any]:
    """What the gate sees: the version's and the serving model's held-out figures, the margin
    (trained minus serving MAE, negative is better) and whether it passes, with the reason."""
    heldout = (version.metrics or {}).get("heldout") or {}
    trained = (heldout.get("trained") or {}).get(GATE_METRIC)
    serving = (heldout.get("serving") or {}).get(GATE_METRIC)
    evaluated_against = (version.metrics or {}).get("serving_version_id")
    current = promoted_reward_model()
    current_id = current.pk if current else None
    out: dict[str, Any] = {
        "version": version.pk,
        "trained_mae": trained,
        "serving_mae": serving,
        "evaluated_against": evaluated_against,
        "serving_now": current_id,
        "margin": None,
        "passes": False,
    }
    if version.role != ModelVersion.Role.REWARD or not version.config:
        out["reason"] = "only reward models trained here can be promoted"
    elif trained is None or serving is None:
        out["reason"] = "its metrics lack the held-out MAE of the model and of the serving model"
    elif evaluated_against != current_id:
        out["reason"] = (
            f"it was evaluated against {_name(evaluated_against)}, but {_name(current_id)} "
            "serves now; train it again to compare with the serving model"
        )
    else:
        out["margin"] = round(float(trained) - float(serving), 4)
        out["passes"] = trained < serving
        out["reason"] = (
            f"held-out MAE {trained:.3f} vs {serving:.3f} for {_name(current_id)} "
            f"({'better' if out['passes'] else 'not better'} by {abs(out['margin']):.3f})"
        )
    return out


def _name(version_id: int | None) -> str:
    return f"version {version_id}" if version_id else "the server's default"


@transaction.atomic
def reward_model_promote(*, version: ModelVersion, actor=None, force: bool = False) -> dict:
    """Make `version` the default reward model for new mediations if it passes the gate (see
    the module docstring), or with `force` anyway (audit-logged). Returns `promotion_check`'s
    record; raises `PromotionRefused`."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    check = promotion_check(version)
    if version.status == ModelVersion.Status.PROMOTED:
        raise PromotionRefused(f"Version {version.pk} is already promoted.")
    if not check["passes"] and not (force and version.config):
        raise PromotionRefused(
            f"Version {version.pk} is not promoted: {check['reason']}.", margin=check["margin"]
        )
    now = timezone.now()
    previous = list(
        ModelVersion.objects.select_for_update().filter(
            role=version.role, status=ModelVersion.Status.PROMOTED
        )
    )
    for old in previous:
        old.status = ModelVersion.Status.RETIRED
        old.save(update_fields=["status"])
    version.status = ModelVersion.Status.PROMOTED
    version.promoted_at = now
    version.save(update_fields=["status", "promoted_at"])
    AuditLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action="model_promote_forced" if not check["passes"] else "model_promote",
        target_type="modelversion",
        target_id=version.pk,
        reason=check["reason"][:500],
        data={**check, "forced": not check["passes"], "replaced": [v.pk for v in previous]},
    )
    return check


@transaction.atomic
def reward_model_pin(
    *,
    deliberation: Deliberation,
    version: ModelVersion | None,
    condition: Condition | None = None,
    actor=None,
) -> None:
    """Pin `version` (None: unpin) as the reward model of the deliberation's groups, or of one
    condition's. Applies to mediations not yet run."""
    if version is not None:
        reward_version_get(version.pk)
    target = condition if condition is not None else deliberation
    if condition is not None and condition.deliberation_id != deliberation.pk:
        raise DomainError("That condition belongs to another deliberation.", code="condition")
    config = dict(target.mediation_config or {})
    if version is None:
        config.pop(PIN_KEY, None)
    else:
        config[PIN_KEY] = version.pk
    target.mediation_config = config
    target.save(update_fields=["mediation_config"])
    AuditLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action="reward_model_pin",
        target_type=target._meta.model_name,
        target_id=target.pk,
        data={"version": version.pk if version else None},
    )
