"""Reads of the reward-model registry (see `deliberation.services.model_versions`)."""

from __future__ import annotations

from typing import Any

from deliberation.errors import DomainError
from deliberation.models import ModelVersion

PIN_KEY = "reward_model_version"


def promoted_reward_model() -> ModelVersion | None:
    """The reward model promoted as the default for new mediations, if any."""
    return ModelVersion.objects.filter(
        role=ModelVersion.Role.REWARD, status=ModelVersion.Status.PROMOTED
    ).first()


def reward_version_get(version_id: Any) -> ModelVersion:
    """A reward version that can serve (trained here, with a backend config), or `DomainError`."""
    if isinstance(version_id, bool) or not isinstance(version_id, int):
        raise DomainError(
            f"{PIN_KEY} must be the id of a reward model version.", code="reward_model_version"
        )
    version = ModelVersion.objects.filter(pk=version_id, role=ModelVersion.Role.REWARD).first()
    if version is None:
        raise DomainError(
            f"There is no reward model version {version_id}.", code="reward_model_version"
        )
    if not version.config:
        raise DomainError(
            f"Reward model version {version_id} was recorded when it served, not trained here; "
            "it has no config to serve it by.",
            code="reward_model_version",
        )
    return version
