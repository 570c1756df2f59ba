"""Where the app meets `inference`: the mediation config of an iteration and its backends.

Backends are built on first use in each process and kept (the embedded reward model loads its
weights once per worker, not once per round). Nothing is built at import time.
"""

import json
import threading
from dataclasses import asdict
from functools import lru_cache

from django.conf import settings

from inference.base import Generator, RewardModel
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
    by the iteration so that a retry of the same iteration samples the same candidates."""
    group = iteration.round.group
    config = server_config().merged(group.deliberation.mediation_config)
    if group.condition_id is not None:
        config = config.merged(group.condition.mediation_config)
    return config.with_seed(iteration.pk)


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
    with a plain note on what the embedded backends are."""
    config = server_config().merged(deliberation.mediation_config)
    return {
        "generator": config.generator,
        "generator_note": BACKEND_NOTES.get(config.generator.backend, ""),
        "reward": config.reward,
        "reward_note": BACKEND_NOTES.get(config.reward.backend, ""),
        "n_candidates": config.n_candidates,
        "aggregation": config.aggregation,
        "alpha": "∞ (minimum)" if config.alpha == float("inf") else config.alpha,
    }
