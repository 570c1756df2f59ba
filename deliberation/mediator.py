"""Where the app meets `inference`: the mediation config of an iteration and its backends.

Backends are built on first use in each process and kept (the embedded reward model loads its
weights once per worker, not once per round). Nothing is built at import time.
"""

import json
import threading
from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from deliberation.errors import DomainError
from deliberation.models import ModelVersion
from deliberation.selectors.model_versions import (
    PIN_KEY,
    promoted_reward_model,
    reward_version_get,
)
from inference.base import ConfigError, Generator, RewardModel
from inference.comparisons import baseline_config
from inference.config import (
    BackendConfig,
    MediationConfig,
    build_generator,
    build_reward_model,
)

_lock = threading.Lock()


def server_config() -> MediationConfig:
    """The mediation config of this server, from the environment (README, configuration table)."""
    return MediationConfig.from_env(settings.INFERENCE_ENV)


def iteration_config(iteration) -> MediationConfig:
    """Server config, overridden by the deliberation's, then by the group's condition's, seeded
    by the iteration so that a retry of the same iteration samples the same candidates. The
    reward model is the one `iteration_setup` picks."""
    return iteration_setup(iteration)[0]


def iteration_setup(iteration) -> tuple[MediationConfig, ModelVersion | None]:
    """`(iteration_config, version)`: `version` is the registered reward model version that
    scores this iteration: pinned by the condition or the deliberation
    (`"reward_model_version": ID`), else the promoted one, unless a plain `"reward"` override
    chose a backend; None when no registered version applies."""
    group = iteration.round.group
    levels = [group.deliberation.mediation_config or {}]
    if group.condition_id is not None:
        levels.append(group.condition.mediation_config or {})
    config, version = resolved_config(levels)
    return config.with_seed(iteration.pk), version


def resolved_config(
    levels: list[dict],
) -> tuple[MediationConfig, ModelVersion | None]:
    """The server's config with the promoted reward model, then each level of overrides in
    turn (see `iteration_setup`); `ConfigError` for a pin that cannot serve."""
    server = server_config()
    config, version = server, promoted_reward_model()
    if version is not None:
        config = replace(config, reward=BackendConfig.from_dict(version.config))
    for level in levels:
        overrides = {k: v for k, v in level.items() if k != PIN_KEY}
        if "reward" in overrides and version is not None:
            # A backend chosen by name starts from the server's reward config, not from the
            # registered version's (whose model path would mean nothing to another backend).
            config, version = replace(config, reward=server.reward), None
        config = config.merged(overrides)
        if level.get(PIN_KEY) is not None:
            try:
                version = reward_version_get(level[PIN_KEY])
            except DomainError as exc:
                raise ConfigError(exc.message) from None
            config = replace(config, reward=BackendConfig.from_dict(version.config))
    if version is not None and version.path and not Path(version.path).exists():
        raise ConfigError(
            f"reward model version {version.pk} has no files at {version.path} on this machine"
        )
    return config, version


def baseline_iteration_config(iteration, config: MediationConfig) -> MediationConfig:
    """The baseline comparison's config for an iteration whose mediation runs with `config`:
    N = 1 (no reranking) and the condition's `baseline_config` on top, with a seed of its own
    (`inference.comparisons.baseline_config`)."""
    condition = iteration.round.group.condition
    return baseline_config(config, condition.baseline_config if condition else None)


def _freeze(config: BackendConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True)


@lru_cache(maxsize=16)
def _generator(frozen: str) -> Generator:
    return build_generator(BackendConfig.from_dict(json.loads(frozen)))


@lru_cache(maxsize=16)
def _reward_model(frozen: str) -> RewardModel:
    return build_reward_model(BackendConfig.from_dict(json.loads(frozen)))


def backends(config: MediationConfig) -> tuple[Generator, RewardModel]:
    with _lock:
        return _generator(_freeze(config.generator)), _reward_model(_freeze(config.reward))


def backends_preload() -> tuple[Generator, RewardModel]:
    """Build (and keep, as `backends` does) the backends of this server's config, with the
    promoted reward model: what a worker process does when it starts, so that its first group
    does not wait for imports and weights. Groups whose deliberation or condition overrides the
    backends still build theirs on first use."""
    config, _version = resolved_config([])
    return backends(config)


BACKEND_NOTES = {
    "extractive": (
        "Not a language model: builds statements from the participants' own sentences, "
        "chosen to cover every member's view."
    ),
    "embedding": (
        "Sentence similarity (all-MiniLM-L6-v2) with a small head; a documented prior until "
        "it is fitted on collected ratings."
    ),
    "fake": "A deterministic stand-in for tests; not for real studies.",
}


def deliberation_mediation_summary(deliberation) -> dict:
    """The mediation settings a deliberation's groups get (before any condition's overrides),
    with a plain note on what the embedded backends are, and the registered reward model version
    (promoted or pinned) when one applies. A version that cannot serve is named in the note, as
    the mediation would fail with it."""
    problem = ""
    try:
        config, version = resolved_config([deliberation.mediation_config or {}])
    except ConfigError as exc:
        problem = f"Mediations will fail: {exc}."
        overrides = {k: v for k, v in (deliberation.mediation_config or {}).items() if k != PIN_KEY}
        config, version = server_config().merged(overrides), None
    reward_note = BACKEND_NOTES.get(config.reward.backend, "")
    if version is not None:
        reward_note = (
            f"Trained here: model version {version.pk} ({version.get_status_display().lower()})."
        )
    return {
        "reward_version": version,
        "generator": config.generator,
        "generator_note": BACKEND_NOTES.get(config.generator.backend, ""),
        "reward": config.reward,
        "reward_note": problem or reward_note,
        "n_candidates": config.n_candidates,
        "aggregation": config.aggregation,
        "alpha": "∞ (minimum)" if config.alpha == float("inf") else config.alpha,
    }
